"""Resource estimates (ikr_hls.fpga_estimate): every price read from the measured operator table
(ikr_hls/rtl/operator_synthesis.json), per device family; memories bound by depth x width; a
layer's estimate is the sum of its priced operators; the report's labelled table and fit."""
import json
import math

import pytest

from ikr_hls import fpga_estimate as E
from ikr_hls import report as R
from ikr_hls.hardware import Cost, Memory, Mux, Operator
from ikr_hls.parts import family_of, lookup
from ikr_hls.precision import parse_type
from ikr_hls.rtl.measured import TABLE
from test_report import SYNTHESIS, build, by_name, tiny_config, tiny_graph

ROWS = json.loads((TABLE.parent / E.TABLE_NAME).read_text())["rows"]
FAMILIES = ("xc7", "xcup")


def rows(family, op, **match):
    return [r for r in ROWS if r["family"] == family and r["op"] == op and all(r.get(k) == v for k, v in match.items())]


@pytest.mark.parametrize("family", FAMILIES)
def test_operators_are_priced_at_their_measured_rows(family):
    for op in ("add", "compare", "max", "relu", "clip", "counter"):
        measured = rows(family, op)
        assert measured, f"{family}: no {op} rows"
        for r in measured:
            same = [m for m in measured if m["width"] == r["width"]]
            lut = sum(m["lut"] for m in same) / len(same)
            assert E.operator_price(op, r["width"], family)["lut"] == pytest.approx(lut), (op, r["width"])
    # between two measured widths: on the line between them
    widths = sorted({r["width"] for r in rows(family, "add")})
    a, b = widths[-2], widths[-1]
    mid = (a + b) / 2
    lut = {r["width"]: r["lut"] for r in rows(family, "add")}
    assert E.operator_price("add", mid, family)["lut"] == pytest.approx((lut[a] + lut[b]) / 2)


@pytest.mark.parametrize("family", FAMILIES)
def test_choices_are_the_measured_multiplexers_per_bit(family):
    for r in rows(family, "mux", width=8):
        assert E.mux_luts_per_bit(r["ways"], family) == pytest.approx(r["lut"] / 8)
    assert E.mux_luts_per_bit(1, family) == 0


@pytest.mark.parametrize("family", FAMILIES)
def test_products_by_constants_are_priced_by_their_digits(family):
    # 0 and the powers of two are wiring; a constant of d canonical signed digits costs the
    # measured mean of the constants of d digits at that data width
    assert E.constant_product(0, 8, 16, "fabric", family) == E.ZERO
    assert E.constant_product(1, 8, 16, "fabric", family) == E.ZERO
    for digits in (2, 3):
        measured = [r["lut"] for r in rows(family, "constmul", other=8, digits=digits, width=16)]
        assert measured, (family, digits)
        price = E.constant_product(digits, 8, 16, "fabric", family)
        assert price["lut"] == pytest.approx(sum(measured) / len(measured)) and price["dsp"] == 0
    # bound to a DSP: a generic product's DSP
    assert E.constant_product(3, 8, 16, "dsp", family) == E.generic_product(8, 16, "dsp", family)
    more = E.constant_product(4, 8, 16, "fabric", family)["lut"]
    assert more > E.constant_product(2, 8, 16, "fabric", family)["lut"]


@pytest.mark.parametrize("family", FAMILIES)
def test_generic_products_are_the_measured_multipliers(family):
    for r in rows(family, "mul"):
        price = E.generic_product(r["width"], r["other"], "dsp" if r["dsp_mapping"] else "fabric", family)
        if r["dsp_mapping"]:
            assert price["dsp"] == r["dsp"] and price["lut"] == r["lut"], r
        else:
            assert price["lut"] == pytest.approx(r["lut"]), r


def test_memories_are_bound_by_depth_and_width():
    family = "xcup"
    p = E.prices(family)
    # a FIFO of depth 2 is a shift register (Vitis's auto_srl defaults)
    fifo = Memory("f", "FIFO", 1, 2, 16)
    assert E.storage(fifo) == "srl"
    srl = [r for r in rows(family, "srl") if r["width"] == 16]
    assert E.memory_price(fifo, family)["lut"] == srl[0]["lut"]
    # a 28 x 16 line buffer: distributed RAM, at the measured LUTs per bit of its depth
    line = Memory("l", "RAM", 4, 28, 16)
    assert E.storage(line) == "lutram"
    per_bit = E._interpolate(p.ram_lut, 28)
    assert E.memory_price(line, family) == pytest.approx({"lut": 4 * 16 * per_bit, "ff": 0, "dsp": 0, "bram_18k": 0})
    # deep ones in 18K blocks, as many as the best measured one-block shape needs
    assert {(d, w) for d, w in p.bram_shapes} >= {(512, 36), (1024, 18), (2048, 9)}
    assert E.memory_price(Memory("t", "ROM", 5, 1024, 18), family)["bram_18k"] == 5
    assert E.memory_price(Memory("t", "ROM", 1, 2048, 18), family)["bram_18k"] == 2
    assert E.memory_price(Memory("t", "RAM", 3, 512, 40), family)["bram_18k"] == 6
    # a deep FIFO is a RAM with its two pointers and a full/empty compare
    deep = Memory("f", "FIFO", 1, 1024, 16)
    price = E.memory_price(deep, family)
    pointers = 2 * E.operator_price("counter", 10, family)["lut"] + E.operator_price("compare", 10, family)["lut"]
    assert price["bram_18k"] == 1 and price["lut"] == pytest.approx(pointers)


def test_the_family_comes_from_the_part():
    assert family_of("xc7z020clg400-1") == "xc7" and family_of("xcvu13p-flga2577-2-e") == "xcup"
    assert family_of("xc7unknown") == "xc7" and lookup("xc7unknown") is None
    assert lookup("xczu9eg-ffvb1156-2-e").dsp == 2520
    # the two families' distributed RAMs differ (RAM32M vs RAM32M16): so do their prices
    line = Memory("l", "RAM", 1, 16, 16)
    assert E.memory_price(line, "xc7")["lut"] != E.memory_price(line, "xcup")["lut"]


def test_a_cost_is_the_sum_of_its_operators():
    cost = Cost(ii=1, iterations=4, multipliers=3, product_bits=(8, 16), constants=((0, 1), (3, 1)),
                operators=(Operator("sum", "add", 24, 5), Operator("relu", "relu", 16, 2),
                           Operator("loop", "counter", 4, 1, "control")),
                muxes=(Mux("m", 2, 4, 16),), registers_bits=100, memories=(Memory("r", "ROM", 1, 8, 16),),
                binding="fabric")
    f = "xcup"
    parts = E.breakdown(cost, f)
    # one product by 0, one by a 3-digit constant, one generic product (3 - 2 constants)
    assert parts["products"]["lut"] == pytest.approx(E.constant_product(3, 8, 16, "fabric", f)["lut"]
                                                     + E.generic_product(8, 16, "fabric", f)["lut"])
    assert parts["adders"]["lut"] == pytest.approx(5 * E.operator_price("add", 24, f)["lut"])
    assert parts["comparators"]["lut"] == pytest.approx(2 * E.operator_price("relu", 16, f)["lut"])
    assert parts["control"]["lut"] == pytest.approx(E.operator_price("counter", 4, f)["lut"])
    assert parts["choices"]["lut"] == pytest.approx(2 * 16 * E.mux_luts_per_bit(4, f))
    assert parts["registers"]["ff"] == 100
    assert parts["memories"] == E.memory_price(Memory("r", "ROM", 1, 8, 16), f)
    total = E.estimate(cost, f)
    assert total["lut"] == math.ceil(sum(p["lut"] for p in parts.values()) - 1e-9)
    on_dsp = E.breakdown(cost, f, "dsp")["products"]
    assert on_dsp["dsp"] == 2 * E.generic_product(8, 16, "dsp", f)["dsp"]     # the product by 0 is none


def test_products_go_where_they_take_the_smaller_share_of_the_part():
    """The binding rule: fabric when the fabric's LUTs take a smaller share of the part's LUTs
    than the DSPs (and their glue LUTs) take of its DSPs (and LUTs)."""
    part = "xcvu13p-flga2577-2-e"
    device = lookup(part)
    for constants in (((2, 10),), ((5, 10),), ()):
        cost = Cost(ii=1, iterations=1, multipliers=10, product_bits=(16, 16), constants=constants)
        fabric = E.products_price(cost, "fabric", "xcup")["lut"] / device.lut
        dsp = E.products_price(cost, "dsp", "xcup")
        expected = "fabric" if fabric <= dsp["dsp"] / device.dsp + dsp["lut"] / device.lut else "dsp"
        assert E.binding(cost, part) == expected
    # a product by a 2-digit constant is one adder: fabric; generic 16 x 16 products: DSPs
    assert E.binding(Cost(ii=1, iterations=1, multipliers=10, product_bits=(16, 16), constants=((2, 10),)),
                     part) == "fabric"
    assert E.binding(Cost(ii=1, iterations=1, multipliers=10, product_bits=(16, 16)), part) == "dsp"
    assert E.binding(Cost(ii=1, iterations=1), part) is None


def test_the_tiny_conv_priced_by_hand():
    """conv 6x6x2 -> 4x4x3, 15 nonzero weights, reuse 2: 8 shared multipliers of an
    ap_fixed<8,3> weight by an ap_fixed<16,6> input, each choosing its operands among 2; the
    report's estimate is its breakdown's sum, the breakdown the priced cost."""
    graph = tiny_graph("unrolled", 2)
    report = build(graph, tiny_config("unrolled", 2))
    entry = by_name(report, "c1")
    conv = graph.layers[0]
    cost = conv.plan_cost
    assert cost.product_bits == (8, 16) and cost.multipliers == math.ceil(15 / 2) and cost.constants == ()
    assert set(cost.muxes) == {Mux("shared multiplier data", 8, 2, 16), Mux("shared multiplier weight", 8, 2, 8)}
    assert cost.memories == (Memory("line buffers", "RAM", 2 * 2, 6, 16),)        # (KH-1) x C RAMs of a row
    family = report["totals"]["resources_estimate_source"]["family"]
    parts = E.breakdown(cost, family)
    assert entry["binding"] == cost.binding and entry["resources_estimate"] == E.total(parts)
    assert parts["products"] == pytest.approx(E.products_price(cost, cost.binding, family))
    assert parts["choices"]["lut"] == pytest.approx(8 * (16 + 8) * E.mux_luts_per_bit(2, family)
                                                    + sum(o.count * E.operator_price("select", o.width, family)["lut"]
                                                          for o in cost.operators if o.op == "select"))
    adders = [o for o in cost.operators if o.op == "add" and o.part == "datapath"]
    assert sum(o.count for o in adders) == 15       # one accumulation a product


def test_constant_products_at_reuse_1_are_the_weights():
    graph = tiny_graph("unrolled", 1)
    build(graph, tiny_config("unrolled", 1))
    conv = graph.layers[0]
    from ikr_hls.hardware import csd_digits
    from ikr_hls.precision import to_codes
    kernel = conv.weights["kernel"]
    digits = csd_digits(to_codes(kernel[kernel != 0], conv.precision["weight"]))
    expected = {int(d): int((digits == d).sum()) for d in set(digits.tolist())}
    assert dict(conv.plan_cost.constants) == expected and sum(expected.values()) == 15


def test_totals_add_the_layers_and_the_buffers():
    """The conv's 4x4x3 result is a RAM buffer (the conv writes, the pool reads, a pixel of 3
    channels a step: 3 banks of 16), a ping-pong pair: 6 distributed RAMs of 16 x 16 bits; the
    other buffers are registers."""
    r = build(tiny_graph(), tiny_config())
    t = r["totals"]["resources_estimate"]
    family = r["totals"]["resources_estimate_source"]["family"]
    assert r["totals"]["buffer_ram_bits"] == 2 * 48 * 16
    ram = E.memory_price(Memory("b", "RAM", 6, 16, 16), family)
    buffers = {"lut": math.ceil(ram["lut"]), "ff": r["totals"]["buffer_registers_bits"], "dsp": 0, "bram_18k": 0}
    for k in ("lut", "ff", "dsp", "bram_18k"):
        assert t[k] == sum(l["resources_estimate"][k] for l in r["layers"]) + buffers[k], k
    assert r["totals"]["resources_estimate_source"]["yosys"].startswith("Yosys")


def test_the_text_labels_estimates_and_shows_them_beside_vitis():
    r = build(tiny_graph(), tiny_config(), synthesis=dict(SYNTHESIS))
    text = R.format_report(r)
    assert "ESTIMATES from open-source synthesis" in text and "not Vitis results" in text
    line = next(l for l in text.splitlines() if l.startswith("LUT "))
    assert "23,456" in line and f"{r['totals']['resources_estimate']['lut']:,}" in line
    assert "estimate (yosys operators)" in text


def test_floating_point_layers_are_not_priced():
    graph = tiny_graph()
    for layer in graph.layers:
        # a float softmax has no lookup tables
        layer.precision = {k: parse_type("float") for k in layer.precision
                           if k not in ("exp_table", "inv_table", "diff", "exp_sum")}
        layer.input_types = [parse_type("float")]
    graph.input_precision = parse_type("float")
    r = build(graph, tiny_config())
    assert all(l["resources_estimate"] is None for l in r["layers"]) and r["totals"]["resources_estimate"] is None
    assert "no estimate for floating-point types" in R.format_report(r)

