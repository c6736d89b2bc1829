"""Resource estimates (ikr_hls.fpga_estimate): prices derived from the measured PE table, memories
binned by hand-computed rules, layer estimates from the hardware model, and the report's
labelled table beside Vitis's figures."""
import json
import math

import pytest

from ikr_hls import fpga_estimate as E
from ikr_hls import report as R
from ikr_hls.hardware import Memory, Mux
from ikr_hls.kinds import kind_of
from ikr_hls.precision import parse_type
from ikr_hls.rtl.measured import TABLE
from test_report import SYNTHESIS, build, by_name, tiny_config, tiny_graph

ROWS = json.loads(TABLE.read_text())["rows"]


def _dense_per_tap(bits):
    taps = [(r["lut"] / (r["kh"] * r["kw"]), r["ff"] / (r["kh"] * r["kw"])) for r in ROWS
            if r["form"] == "dense" and not r["dsp_mapping"] and r["weight_bits"] == r["act_bits"] == bits]
    assert len(taps) >= 2, "the table has dense rows for 3x3 and 5x5 kernels"
    return sum(t[0] for t in taps) / len(taps), sum(t[1] for t in taps) / len(taps)


def test_product_prices_are_the_measured_dense_pe_per_tap():
    for bits in (8, 16):
        assert E.product_luts(bits, bits) == pytest.approx(_dense_per_tap(bits))
    # between and beyond the measured points: linear in the product of the widths
    lo, hi = _dense_per_tap(8)[0], _dense_per_tap(16)[0]
    assert E.product_luts(8, 16)[0] == pytest.approx(lo + (hi - lo) * (128 - 64) / (256 - 64))
    assert E.product_luts(16, 20)[0] > hi


def test_mux_prices_are_the_one_tap_ikr_pes_with_dsp():
    for ways in (4, 8, 16):
        luts = [r["lut"] / r["act_bits"] for r in ROWS if r["form"] == "ikr" and r["dsp_mapping"]
                and r["keep"] == 1 and len({tuple(p) for p in r["library"]}) == ways]
        assert luts and E.mux_luts_per_bit(ways) == pytest.approx(sum(luts) / len(luts))
    assert E.mux_luts_per_bit(1) == 0 and 0 < E.mux_luts_per_bit(2) < E.mux_luts_per_bit(4)


def test_dsps_per_product_follow_the_dsp48e1_operands():
    assert E.dsps_per_product(16, 16) == 1 and E.dsps_per_product(8, 25) == 1
    assert E.dsps_per_product(19, 19) == 2 and E.dsps_per_product(32, 32) == 2 * 2


def test_memories_by_hand():
    # 5 copies of a 1024 x 18 table: one 18K block each (its 1K x 18 shape)
    assert E.memory_cost(Memory("t", "ROM", 5, 1024, 18)) == {"bram_18k": 5, "lut": 0}
    # 2048 x 18: two blocks (2K x 9 twice, or 1K x 18 twice)
    assert E.memory_cost(Memory("t", "ROM", 1, 2048, 18)) == {"bram_18k": 2, "lut": 0}
    # 512 x 40: 512 x 36 holds 36 bits, so two
    assert E.memory_cost(Memory("t", "RAM", 3, 512, 40)) == {"bram_18k": 6, "lut": 0}
    # a 28 x 16 line buffer (448 bits, under BRAM_MIN_BITS): LUT RAM, 64 deep, two ports
    assert E.memory_cost(Memory("l", "RAM", 4, 28, 16)) == {"bram_18k": 0, "lut": 4 * 2 * 1 * 16}
    assert E.memory_cost(Memory("r", "ROM", 1, 100, 8)) == {"bram_18k": 0, "lut": 2 * 8}


def test_the_tiny_conv_priced_by_hand():
    """conv 6x6x2 -> 4x4x3, 15 nonzero weights, reuse 2: 8 shared multipliers of an
    ap_fixed<8,3> weight by an ap_fixed<16,6> input, each choosing its operands among 2."""
    graph = tiny_graph("unrolled", 2)
    report = build(graph, tiny_config("unrolled", 2))
    entry = by_name(report, "c1")
    conv = graph.layers[0]
    cost = kind_of(conv).cost(conv)
    assert cost.product_bits == (8, 16) and cost.multipliers == math.ceil(15 / 2)
    assert set(cost.muxes) == {Mux("shared multiplier data", 8, 2, 16), Mux("shared multiplier weight", 8, 2, 8)}
    assert cost.memories == (Memory("line buffers", "RAM", 2 * 2, 6, 16),)        # (KH-1) x C RAMs of a row
    line_luts = 4 * 2 * math.ceil(6 / 64) * 16
    mux_luts = 8 * (16 + 8) * E.mux_luts_per_bit(2)
    on_dsp = entry["resources_estimate"]["products_on_dsp"]
    assert on_dsp == {"lut": round(mux_luts + line_luts), "ff": entry["registers_bits"], "dsp": 8, "bram_18k": 0}
    lut, ff = E.product_luts(8, 16)
    in_luts = entry["resources_estimate"]["products_in_luts"]
    assert in_luts == {"lut": round(8 * lut + mux_luts + line_luts), "ff": round(8 * ff + entry["registers_bits"]),
                       "dsp": 0, "bram_18k": 0}


def test_pattern_pe_inputs_choose_among_the_channels_they_serve():
    """Reuse 2 on the tiny conv's pattern strategy: DIAG serves 3 kernels (ci 0,0,1) on 2
    instances, COLUMN 2 kernels (ci 1,0) on one; an instance whose kernels read different input
    channels chooses each tap's register by the cycle."""
    graph = tiny_graph("pattern", 2)
    build(graph, tiny_config("pattern", 2))
    conv = graph.layers[0]
    served: dict = {}
    for cycle in conv.facts.form.slots:
        for s in cycle:
            served.setdefault((s.g, s.i), set()).add(s.ci)
    expected = sum(3 for channels in served.values() if len(channels) == 2)      # 3 taps per pattern
    cost = kind_of(conv).cost(conv)
    assert expected > 0 and list(cost.muxes) == [Mux("PE inputs", expected, 2, 16)]
    assert [(m.kind, m.count, m.depth) for m in cost.memories if m.what == "PE weights"] == \
        [("ROM", sum(math.ceil(n / 2) * 3 for n in (3, 2)), 2)]


def test_totals_add_the_layers_and_the_buffers():
    """The conv's 4x4x3 result is a RAM buffer (the conv writes, the pool reads, a pixel of 3
    channels a step: 3 banks of 16), a ping-pong pair: 6 LUT RAMs of 16 x 16 bits; the other
    buffers are registers."""
    r = build(tiny_graph(), tiny_config())
    t = r["totals"]["resources_estimate"]
    assert r["totals"]["buffer_ram_bits"] == 2 * 48 * 16
    buffers = {"lut": 6 * 2 * math.ceil(16 / 64) * 16, "ff": r["totals"]["buffer_registers_bits"], "dsp": 0,
               "bram_18k": 0}
    for mapping in ("products_on_dsp", "products_in_luts"):
        for k in ("lut", "ff", "dsp", "bram_18k"):
            layers = sum(l["resources_estimate"][mapping][k] for l in r["layers"])
            assert t[mapping][k] == layers + buffers[k], (mapping, k)
    assert r["totals"]["resources_estimate_source"]["yosys"].startswith("Yosys")


def test_the_text_labels_estimates_and_shows_them_beside_vitis():
    r = build(tiny_graph(), tiny_config(), synthesis=dict(SYNTHESIS))
    text = R.format_report(r)
    assert "ESTIMATES from open-source synthesis" in text and "not Vitis results" in text
    line = next(l for l in text.splitlines() if l.startswith("LUT "))
    assert "23,456" in line and f"{r['totals']['resources_estimate']['products_on_dsp']['lut']:,}" in line
    assert "estimate (yosys PE table)" in text


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
