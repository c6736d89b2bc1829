"""ikr_hls.report: numbers checked against values each test derives itself (hand formulas on a
tiny hand-built graph, numpy on the LeNet-5 weights), JSON, text and PNG output."""
import copy
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from ikr_hls import report as R
from ikr_hls.attributes import Settings
from ikr_hls.config import make_config
from ikr_hls.hardware import OP_LATENCY
from ikr_hls.ir import Graph, Layer
from ikr_hls.kinds.conv2d import ConvAttributes
from ikr_hls.kinds.pool2d import PoolAttributes
from ikr_hls.passes import derive_facts
from ikr_hls.plan import plan_hardware
from ikr_hls.precision import parse_type
from ikr_hls.precision_inference import _softmax_types

LENET_IKR = Path(__file__).resolve().parents[1] / "examples" / "models" / "lenet5_ikr.h5"

# Two hand-made 3x3 patterns: the main diagonal and the middle column (flat positions).
DIAG, COLUMN = [0, 4, 8], [1, 4, 7]
W_BITS, B_BITS = 8, 12                  # ap_fixed<8,3> weights, ap_fixed<12,4> biases
ACT_T = parse_type("ap_fixed<16,6>")    # every layer's input and result
A_BITS = 16

SYNTHESIS = {"latency_best": 4321, "latency_worst": 4567, "interval_min": 1234, "interval_max": 1250,
             "estimated_clock_ns": 4.375, "target_clock_ns": 5.0,
             "resources": {"DSP": 77, "LUT": 23456, "FF": 34567, "BRAM_18K": 9, "URAM": 0},
             "available": {"DSP": 12288, "LUT": 1728000, "FF": 3456000, "BRAM_18K": 5376, "URAM": 1280}}


def _conv_kernel(assign):
    """(3, 3, 2, 3) kernel; assign[ci][co] is a list of flat positions (or [] for a removed
    kernel); weights are distinct nonzero values."""
    k = np.zeros((3, 3, 2, 3))
    value = 1.0
    for ci in range(2):
        for co in range(3):
            for p in assign[ci][co]:
                k[p // 3, p % 3, ci, co] = value * (-1) ** int(value)
                value += 0.25
    return k


# the operator latencies of the pipeline depth model (docs/hardware.md)
READ, WRITE, MUL, ADD, CMP, TABLE = (OP_LATENCY[k] for k in ("read", "write", "multiply", "add", "compare", "table"))


def tiny_graph(strategy="unrolled", rf=2, assign=None):
    """conv 6x6x2 -> 4x4x3 (3x3 valid), max pool 2x2 -> 2x2x3, dense 12 -> 4, scale_shift,
    softmax. The conv's 6 kernels: 3 take DIAG, 2 take COLUMN, one has no weight left."""
    assign = assign or [[DIAG, COLUMN, DIAG], [COLUMN, DIAG, []]]
    prec = {"weight": parse_type("ap_fixed<8,3>"), "bias": parse_type("ap_fixed<12,4>"),
            "result": parse_type("ap_fixed<16,6>"), "accum": parse_type("ap_fixed<32,12>")}
    settings = Settings(strategy=strategy, reuse_factor=rf, table_size=1024, exp_range=16, act_range=8)
    conv = Layer("c1", "conv2d", "conv_a", (6, 6, 2), (4, 4, 3), settings=settings,
                 attrs=ConvAttributes(kh=3, kw=3, sh=1, sw=1, padding="valid", pad_top=0, pad_bottom=0,
                                      pad_left=0, pad_right=0),
                 weights=dict(kernel=_conv_kernel(assign), bias=np.array([0.5, 0.0, -1.0])),
                 activation="relu", precision=dict(prec))
    pool = Layer("p1", "pool2d", "pool_a", (4, 4, 3), (2, 2, 3),
                 settings=settings,
                 attrs=PoolAttributes(op="max", ph=2, pw=2, sh=2, sw=2, padding="valid", pad_top=0, pad_bottom=0,
                                      pad_left=0, pad_right=0),
                 precision={"result": parse_type("ap_fixed<16,6>"), "accum": parse_type("ap_fixed<16,6>")})
    dense_kernel = np.zeros((12, 4))
    for i in range(10):                                    # 10 nonzeros, spread over the matrix
        dense_kernel[(5 * i) % 12, i % 4] = 0.1 * (i + 1)
    dense = Layer("d1", "dense", "dense_a", (12,), (4,), settings=settings,
                  weights=dict(kernel=dense_kernel, bias=np.array([0.1, 0.2, 0.0, 0.3])),
                  precision=dict(prec))
    bn = Layer("s1", "scale_shift", "bn_a", (4,), (4,),
               weights=dict(scale=np.array([1.0, 2.0, 0.0, 3.0]), shift=np.zeros(4)),
               precision=dict(prec))
    act = Layer("a1", "activation", "softmax_a", (4,), (4,), activation="softmax",
                settings=settings,
                precision={"result": parse_type("ap_fixed<16,6>"), "accum": parse_type("ap_fixed<16,6>")})
    act.precision.update(_softmax_types(act, ACT_T, {}))     # its lookup tables, as the passes give them
    layers = [conv, pool, dense, bn, act]
    for previous, layer in zip(["input"] + [l.name for l in layers[:-1]], layers, strict=True):  # a chain
        layer.inputs, layer.input_types = [previous], [ACT_T]
    return Graph(source="tiny", input_shape=(6, 6, 2), layers=layers, input_precision=ACT_T,
                 removed={"flat": "free (buffers are already flat)"})


def tiny_config(strategy="unrolled", rf=2):
    return make_config(precision="ap_fixed<16,6>", strategy=strategy, reuse_factor=rf,
                       clock_period=4.0, project_name="tiny")


def build(graph, config, **kwargs):
    """The report of a graph: a converted one as it is, a hand-built one once the facts pass has
    read its weights and the plan pass has priced it."""
    return R.build_report(graph if graph.frozen else plan_hardware(derive_facts(graph)), config, **kwargs)


def by_name(report, name):
    return next(l for l in report["layers"] if l["name"] == name)


# ----- hand-built graph: every number derived here

def test_conv_counts_patterns_and_storage_by_hand():
    r = build(tiny_graph(), tiny_config())
    c = by_name(r, "c1")
    nnz = 5 * 3                                   # five live kernels of three taps
    n_kernels, pixels = 6, 4 * 4
    assert c["params_dense"] == 3 * 3 * 2 * 3 + 3
    assert c["params_nonzero"] == nnz + 2         # one bias is 0.0
    assert c["macs_dense"] == pixels * 54 and c["macs_pruned"] == pixels * nnz
    assert c["kernel_size"] == [3, 3] and c["keep"] == 3 and c["regular"] is True
    assert c["kernels"] == n_kernels and c["kernels_removed"] == 1
    assert c["library_size"] == 2
    grids = {tuple(np.flatnonzero(np.array(p["grid"]).ravel())): p["kernels"] for p in c["patterns"]}
    assert grids == {tuple(DIAG): 3, tuple(COLUMN): 2}
    assert [p["kernels"] for p in c["patterns"]] == [3, 2]            # most used first
    # 2 patterns + the "no weight" symbol of the removed kernel = 3 symbols -> 2 bits
    assert c["index_bits"] == 2
    assert c["weight_bits"] == W_BITS and c["weight_type"] == "ap_fixed<8, 3>"
    assert c["storage_bits"] == {
        "dense": 54 * W_BITS,
        "ikr": nnz * W_BITS + n_kernels * 2,
        "csr": nnz * (W_BITS + math.ceil(math.log2(9))) + (n_kernels + 1) * math.ceil(math.log2(nnz + 1)),
    }
    assert c["storage_bits"] == {"dense": 432, "ikr": 132, "csr": 208}    # the same, spelled out
    assert c["bias_bits"] == 3 * B_BITS


def test_dense_pool_scale_shift_and_activation_rows():
    r = build(tiny_graph(), tiny_config())
    d = by_name(r, "d1")
    assert d["params_dense"] == 48 + 4 and d["params_nonzero"] == 10 + 3
    assert d["macs_dense"] == 48 and d["macs_pruned"] == 10
    csr = 10 * (W_BITS + math.ceil(math.log2(12))) + (4 + 1) * math.ceil(math.log2(10 + 1))
    assert d["storage_bits"] == {"dense": 48 * W_BITS, "ikr": csr, "csr": csr}
    # the whole vector is one step at II = R, its 10 products on ceil(10 / R) multipliers
    assert d["multipliers"] == math.ceil(10 / 2) and (d["ii"], d["iterations"]) == (2, 1)
    # its chain: multiply, the adder tree of an output's 3 products and bias (2 levels), one
    # cycle more for the products shared over II 2, the write (docs/hardware.md's latencies)
    assert d["pipeline_depth"] == MUL + 2 * ADD + 1 + WRITE and d["latency_estimate_cycles"] == 2 + d["pipeline_depth"]
    assert d["registers_bits"] == 4 * 32                          # one accumulator per output
    p = by_name(r, "p1")
    assert (p["params_dense"], p["params_nonzero"], p["macs_dense"], p["storage_bits"]) == (0, 0, None, None)
    # one step per input pixel (the 4x4 grid), II 1; a line buffer of one row of 4 pixels x 3 channels
    assert (p["ii"], p["iterations"]) == (1, 16) and p["latency_estimate_cycles"] == 16 + p["pipeline_depth"]
    assert p["pipeline_depth"] == READ + 2 * CMP + WRITE              # a compare tree over the 2x2 window
    assert p["ram_bits"] == (2 - 1) * 4 * 3 * A_BITS
    assert p["registers_bits"] == (2 * 2 + 2 + 1) * 3 * A_BITS     # window, column, pixel
    s = by_name(r, "s1")
    assert s["params_dense"] == 8 and s["params_nonzero"] == 3
    assert s["storage_bits"] == {"dense": 4 * W_BITS, "ikr": 4 * W_BITS, "csr": 4 * W_BITS}
    assert s["macs_dense"] is None and s["multipliers"] == 4          # one per channel, one step
    assert s["latency_estimate_cycles"] == 1 + READ + MUL + WRITE     # its shifts are 0: no adder
    a = by_name(r, "a1")
    assert a["params_dense"] == 0 and a["weight_type"] is None
    # softmax: the vector in one step; each of its 4 values times the sum's reciprocal
    # exp table, the sum of 4 (2 levels), the inverse table, the product
    assert a["latency_estimate_cycles"] == 1 + READ + TABLE + 2 * ADD + TABLE + MUL + WRITE and a["multipliers"] == 4


def test_totals_are_sums_of_the_layers():
    r = build(tiny_graph(), tiny_config())
    t, layers = r["totals"], r["layers"]
    assert t["params_dense"] == 57 + 52 + 8 and t["params_nonzero"] == 17 + 13 + 3
    assert t["params_reduction"] == pytest.approx(117 / 33)
    assert t["macs_dense"] == 16 * 54 + 48 and t["macs_pruned"] == 16 * 15 + 10
    assert t["macs_reduction"] == pytest.approx((16 * 54 + 48) / (16 * 15 + 10))
    for k in ("dense", "ikr", "csr"):
        assert t["storage_bits"][k] == sum(l["storage_bits"][k] for l in layers if l["storage_bits"])
    assert t["storage_reduction"]["ikr"] == pytest.approx(t["storage_bits"]["dense"] / t["storage_bits"]["ikr"])
    assert t["bias_bits"] == 3 * B_BITS + 4 * B_BITS + 4 * B_BITS
    # conv: a step per pixel of its 6x6 input at II 2; pool: its 4x4 input; dense: one step
    # at II 2; scale_shift and softmax: one step for the vector
    cycles = [36 * 2 + l["pipeline_depth"] if k == 0 else l["latency_estimate_cycles"] for k, l in enumerate(layers)]
    # the conv's chain: a line-buffer read, the products, the tree of a filter's 6 taps and its
    # bias (3 levels), one cycle of sharing at II 2, its ReLU's compare, the write
    assert layers[0]["pipeline_depth"] == READ + MUL + 3 * ADD + 1 + CMP + WRITE
    assert [l["latency_estimate_cycles"] for l in layers] == cycles
    assert all(l["pipeline_depth"] == sum(op["cycles"] for op in l["chain"]) for l in layers)
    assert t["latency_estimate_cycles"] == sum(cycles)                  # one chain, no copies
    assert t["interval_estimate_cycles"] == max(cycles)
    assert t["latency_estimate_ns"] == pytest.approx(sum(cycles) * 4.0)
    assert t["multipliers"] == math.ceil(15 / 2) + math.ceil(10 / 2) + 4 + 4
    # the buffers between the layers (not the top's input and output ports) are ping-pong
    # pairs of 16-bit values
    sizes = [4 * 4 * 3, 2 * 2 * 3, 4, 4]                                # results of c1, p1, d1, s1
    assert t["buffer_registers_bits"] + t["buffer_ram_bits"] == sum(2 * n * A_BITS for n in sizes)
    assert t["registers_bits"] == sum(l["registers_bits"] for l in layers) + t["buffer_registers_bits"]
    assert r["project"] == "tiny" and r["precision"] == "ap_fixed<16, 6>" and r["strategy"] == "unrolled"


@pytest.mark.parametrize("rf", [1, 2, 3])
def test_multipliers_by_strategy_and_reuse_factor(rf):
    unrolled = by_name(build(tiny_graph("unrolled", rf), tiny_config("unrolled", rf)), "c1")
    assert unrolled["multipliers"] == math.ceil(15 / rf)
    # pattern: one PE per pattern, ceil(kernels / rf) copies of its taps
    expected = math.ceil(3 / rf) * 3 + math.ceil(2 / rf) * 3
    graph = tiny_graph("pattern", rf)
    pattern = by_name(build(graph, tiny_config("pattern", rf)), "c1")
    assert pattern["multipliers"] == expected and pattern["support_groups"] == 2
    # R cycles of II 1 per pixel of the 6x6 input, for both strategies
    assert unrolled["latency_estimate_cycles"] == 36 * rf + unrolled["pipeline_depth"]
    assert pattern["latency_estimate_cycles"] == 36 * rf + pattern["pipeline_depth"]
    assert (unrolled["ii"], unrolled["iterations"]) == (rf, 36)
    assert (pattern["ii"], pattern["iterations"]) == (1, 36 * rf)
    # with R > 1 each PE instance keeps the weights of its R kernels in a ROM of depth R
    instances = math.ceil(3 / rf) + math.ceil(2 / rf)
    assert pattern["rom_bits"] == (instances * rf * 3 * W_BITS if rf > 1 else 0)


def test_a_library_as_large_as_its_kernels_is_noted():
    """The tiny conv has 2 patterns for 5 kernels: shared enough; one pattern per kernel is not."""
    assert not any("hardly shared" in n for n in build(tiny_graph(), tiny_config())["notes"])
    r = build(tiny_graph(assign=[[[0, 4, 8], [1, 4, 7], [2, 4, 6]], [[3, 4, 5], [0, 1, 2], []]]), tiny_config())
    (note,) = [n for n in r["notes"] if "hardly shared" in n]
    assert note.startswith("c1: 5 pattern(s) for 5 kernel(s), 1.0 kernel(s) per pattern")


def test_pe_strategy_at_reuse_1_says_it_is_the_pattern_strategys_hardware():
    """At R = 1 each PE serves one kernel and is inlined: its constant pattern id folds the
    multiplexers away (none in the report), which the note says."""
    one = build(tiny_graph("pe", 1), tiny_config("pe", 1))
    noted = [n for n in one["notes"] if "folds the pattern multiplexers away" in n]
    assert len(noted) == 1 and noted[0].startswith("c1: at reuse factor 1")
    assert not [m for m in by_name(one, "c1")["muxes"] if m["what"] == "PE pattern"]
    assert not any("folds the pattern" in n for n in build(tiny_graph("pe", 2), tiny_config("pe", 2))["notes"])


@pytest.mark.parametrize("rf", [1, 2, 3, 4])
def test_pe_strategy_by_hand(rf):
    """The pe strategy on the tiny conv: 5 live kernels of 3 taps (ci0: co0 DIAG, co1 COLUMN,
    co2 DIAG; ci1: co0 COLUMN, co1 DIAG). Each input channel's kernels fill PEs R at a time, the
    remainders share the last ones: ceil(5 / R) PEs of 3 multipliers."""
    c = by_name(build(tiny_graph("pe", rf), tiny_config("pe", rf)), "c1")
    pes = math.ceil(5 / rf)
    assert c["multipliers"] == pes * 3
    assert (c["ii"], c["iterations"]) == (1, 36 * rf)
    assert c["macs_pruned"] == 16 * 5 * 3
    # per PE, ROMs of depth R: 3 weights and a 1-bit pattern id (2 patterns); constants at R = 1
    assert c["rom_bits"] == (pes * rf * (3 * W_BITS + 1) if rf > 1 else 0)
    # DIAG and COLUMN use 5 positions; taps 0 and 2 differ between them (0/1, 8/7), tap 1 not (4);
    # at R = 1 the pattern id is a constant of each inlined PE: no multiplexer is left
    muxes = {(m["what"], m["ways"]): m["count"] for m in c["muxes"]}
    expected = {("PE pattern", 2): 2 * pes} if rf > 1 else {}
    if rf == 4:           # PE 0: ci0's 3 kernels and one of ci1's: its 5 inputs choose the channel
        expected[("PE inputs", 2)] = 5
    assert muxes == expected


def test_one_pattern_needs_no_index_and_padding_adds_cycles():
    graph = tiny_graph(assign=[[DIAG, DIAG, DIAG], [DIAG, DIAG, DIAG]])
    conv = graph.layers[0]
    conv.attrs = conv.attrs.replace(padding="same", pad_top=1, pad_bottom=1, pad_left=1, pad_right=1)
    conv.out_shape = (6, 6, 3)
    graph.layers[1].in_shape, graph.layers[1].out_shape = (6, 6, 3), (3, 3, 3)
    graph.layers[2].in_shape = (27,)
    graph.layers[2].weights["kernel"] = np.vstack([graph.layers[2].weights["kernel"], np.zeros((15, 4))])
    c = by_name(build(graph, tiny_config()), "c1")
    assert c["library_size"] == 1 and c["index_bits"] == 0 and c["kernels_removed"] == 0
    assert c["storage_bits"]["ikr"] == 18 * W_BITS                     # the weights, nothing else
    assert c["macs_pruned"] == 36 * 18
    # a step per pixel of the 8x8 padded grid (the padding is not copied, it is read as zeros)
    assert c["latency_estimate_cycles"] == 8 * 8 * 2 + c["pipeline_depth"]
    assert c["ram_bits"] == (3 - 1) * 8 * 2 * A_BITS                 # two rows of the padded grid


def test_irregular_layer_and_a_kept_zero():
    # kernel (1,2) has 2 nonzeros that no 3-tap pattern covers -> irregular
    irregular = by_name(build(tiny_graph(assign=[[DIAG, COLUMN, DIAG], [COLUMN, DIAG, [2, 3]]]),
                                       tiny_config()), "c1")
    assert irregular["regular"] is False and irregular["keep"] is None
    assert irregular["library_size"] == 3 and irregular["index_bits"] == 2
    assert irregular["storage_bits"]["ikr"] == 17 * W_BITS + 6 * 2
    # kernel (1,2) keeps 2 of DIAG's taps (its third weight is exactly 0.0): still regular,
    # and IKR storage keeps a slot for the zero
    r = build(tiny_graph(assign=[[DIAG, COLUMN, DIAG], [COLUMN, DIAG, [0, 4]]]), tiny_config())
    kept = by_name(r, "c1")
    assert kept["regular"] is True and kept["keep"] == 3 and kept["library_size"] == 2
    assert kept["kernel_nonzero"] == 17 and kept["weight_slots"] == 18
    assert kept["index_bits"] == 1 and kept["storage_bits"]["ikr"] == 18 * W_BITS + 6 * 1
    assert any("exactly 0.0" in n for n in r["notes"])


def test_weight_bits_of_type_strings_and_parsed_types():
    assert R.weight_bits("float") == 32 and R.weight_bits("double") == 64
    assert R.weight_bits("ap_fixed<10,4>") == 10 and R.weight_bits("ap_ufixed<7,0,AP_RND,AP_SAT>") == 7
    assert R.weight_bits("ap_int<6>") == 6 and R.weight_bits(parse_type("ap_fixed<18, 8>")) == 18
    assert [R.index_bits(n) for n in (0, 1, 2, 3, 4, 5, 8, 9)] == [0, 0, 1, 2, 2, 3, 3, 4]
    graph = tiny_graph()
    for layer in graph.layers:
        if "weight" in layer.precision:
            layer.precision["weight"] = parse_type("float")
    c = by_name(build(graph, tiny_config()), "c1")
    assert c["weight_bits"] == 32 and c["storage_bits"]["dense"] == 54 * 32


def test_json_round_trip_and_text_from_the_loaded_json():
    r = build(tiny_graph("pattern"), tiny_config("pattern"), synthesis=SYNTHESIS)
    text = json.dumps(r, allow_nan=False)
    back = json.loads(text)
    assert back == r
    assert R.format_report(back) == R.format_report(r)


def test_text_lists_every_layer_totals_and_patterns():
    r = build(tiny_graph(), tiny_config())
    text = R.format_report(r)
    for name in ("c1", "p1", "d1", "s1", "a1"):
        assert re.search(rf"^{name}\s", text, re.M), name
    assert "estimate" in text and "132" in text and "432" in text and "208" in text
    assert "#.." in text and ".#." in text and "x3" in text and "x2" in text     # the two grids
    assert "Vitis HLS synthesis" not in text


def test_synthesis_figures_beside_the_estimate():
    r = build(tiny_graph(), tiny_config(), synthesis=copy.deepcopy(SYNTHESIS))
    assert r["synthesis"] == SYNTHESIS
    text = R.format_report(r)
    assert "Vitis HLS synthesis" in text
    for figure in ("4,321", "4,567", "1,234", "1,250", "4.375", "23,456", "1,728,000", "77", "0.6%"):
        assert figure in text, figure
    line = next(l for l in text.splitlines() if l.startswith("latency (cycles)"))
    assert "4,321 .. 4,567" in line and f"{r['totals']['latency_estimate_cycles']:,}" in line
    partial = build(tiny_graph(), tiny_config(), synthesis={"latency_best": 99, "resources": {"DSP": 3}})
    assert "99" in R.format_report(partial)                        # missing keys show as '-'


def test_plot_writes_a_readable_png(tmp_path):
    import matplotlib.image

    path = tmp_path / "sub" / "report.png"
    R.plot_report(build(tiny_graph(), tiny_config()), path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    image = matplotlib.image.imread(str(path))
    assert image.ndim == 3 and image.shape[0] >= 400 and image.shape[1] >= 800
    assert image[..., :3].std() > 0.05                             # not a blank page


# ----- the shipped IKR-pruned LeNet-5

@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    assert LENET_IKR.is_file(), f"{LENET_IKR} is shipped with the repository"
    from ikr_hls.hls_model import convert

    return convert(str(LENET_IKR), output_dir=tmp_path_factory.mktemp("r") / "p", precision="ap_fixed<16,6>")


def test_lenet_numbers_from_the_weights(lenet):
    r = build(lenet.graph, lenet.config)
    layers = lenet.graph.layers
    assert [l["name"] for l in r["layers"]] == [l.name for l in layers]
    total_dense = total_nonzero = macs_dense = macs_pruned = bits = 0
    for layer, row in zip(layers, r["layers"], strict=True):
        arrays = list(layer.weights.values())
        assert row["params_dense"] == sum(a.size for a in arrays)
        assert row["params_nonzero"] == sum(int(np.count_nonzero(a)) for a in arrays)
        total_dense += row["params_dense"]
        total_nonzero += row["params_nonzero"]
        if layer.kind in ("conv2d", "dense"):
            k = layer.weights["kernel"]
            positions = layer.out_shape[0] * layer.out_shape[1] if layer.kind == "conv2d" else 1
            assert (row["macs_dense"], row["macs_pruned"]) == (positions * k.size, positions * np.count_nonzero(k))
            macs_dense += positions * k.size
            macs_pruned += positions * int(np.count_nonzero(k))
            bits += k.size * 16
        if layer.kind == "conv2d":
            kh, kw, ci, co = layer.weights["kernel"].shape
            support = (layer.weights["kernel"] != 0).reshape(kh * kw, ci * co).T
            live = support[support.any(axis=1)]
            assert row["library_size"] == len({tuple(s) for s in live.tolist()})
            assert row["keep"] == int(live.sum(axis=1).max())
            assert row["storage_bits"]["ikr"] == (int(np.count_nonzero(k)) * 16
                                                  + ci * co * math.ceil(math.log2(row["library_size"])))
    t = r["totals"]
    assert (t["params_dense"], t["params_nonzero"]) == (total_dense, total_nonzero)
    assert (t["macs_dense"], t["macs_pruned"]) == (macs_dense, macs_pruned)
    assert t["storage_bits"]["dense"] == bits
    assert t["params_reduction"] > 5 and t["macs_reduction"] > 5          # it is IKR-pruned
    assert t["storage_bits"]["ikr"] < t["storage_bits"]["dense"] / 5


def test_lenet_matches_pruning_summary_and_backend(lenet, tmp_path):
    from ikr_hls.hls_model import convert
    from ikr_hls.pruning import summary

    r = build(lenet.graph, lenet.config)
    s = summary(lenet.keras_model if lenet.keras_model is not None else str(LENET_IKR), print_fn=None).totals
    assert (r["totals"]["macs_dense"], r["totals"]["macs_pruned"]) == (s["macs_dense"], s["macs_pruned"])
    assert (r["totals"]["params_dense"], r["totals"]["params_nonzero"]) == (s["params"], s["nonzero"])
    model = lenet.keras_model if lenet.keras_model is not None else str(LENET_IKR)
    hls = convert(model, output_dir=tmp_path / "p", precision="ap_fixed<16,6>",
                  strategy="pattern", reuse_factor=3)
    rp = build(hls.graph, hls.config)
    for layer in hls.graph.layers:
        if layer.kind != "conv2d":
            continue
        text = hls.files[f"firmware/layers/{layer.name}.h"]
        found = re.search(r"latency \d+ cycles, (\d+) multipliers", text)
        assert found, f"the {layer.name} header no longer states its multipliers"
        assert by_name(rp, layer.name)["multipliers"] == int(found.group(1))


def test_lenet_text_and_plot(lenet, tmp_path):
    import matplotlib.image
    import matplotlib.text

    r = build(lenet.graph, lenet.config, synthesis=SYNTHESIS)
    text = R.format_report(r)
    for layer in lenet.graph.layers:
        assert re.search(rf"^{layer.name}\s", text, re.M)
    for layer in lenet.graph.layers:
        if layer.kind == "conv2d":
            k = layer.weights["kernel"]
            live = {tuple(s) for s in (k != 0).reshape(-1, k.shape[2] * k.shape[3]).T.tolist() if any(s)}
            assert f"{layer.name}: {len(live)} pattern(s) of " in text
    path = tmp_path / "lenet.png"
    R.plot_report(json.loads(json.dumps(r)), path)
    assert path.read_bytes()[:4] == b"\x89PNG"
    h, w = matplotlib.image.imread(str(path)).shape[:2]
    assert h >= 600 and w >= 1000
    from ikr_hls.report.plot import report_figure, trivial_library

    libraries = [l for l in r["layers"] if l.get("patterns")]        # pruned: each has something to show
    assert libraries and not any(trivial_library(l) for l in libraries)
    fig = report_figure(json.loads(json.dumps(r)))
    grids = [t for t in fig.findobj(matplotlib.text.Text) if re.fullmatch(r"#\d+: \d+ kernels?", t.get_text())]
    assert len(grids) == sum(min(len(l["patterns"]), R.MAX_DRAWN_PATTERNS) for l in libraries)


def test_plot_hardware_row_is_the_reports_figures(tmp_path):
    """The plot's hardware row draws the report's own per-layer figures (multipliers labelled
    with the layer's strategy and reuse factor, cycles with II x steps, memory bits) and, in
    io_stream, every FIFO's depth."""
    import keras
    import matplotlib.image

    from ikr_hls import convert
    from ikr_hls.report.plot import hardware_panels

    inp = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", name="c")(inp)
    y = keras.layers.Conv2D(4, 3, padding="same", name="d")(x)
    model = keras.Model(inp, keras.layers.Add(name="a")([x, y]))
    for io_type in ("io_parallel", "io_stream"):
        r = convert(model, output_dir=str(tmp_path / io_type), strategy="pe", reuse_factor=2, io_type=io_type,
                    precision="ap_fixed<16,6>").report()
        panels = {title.split()[0]: bars for title, bars, _ in hardware_panels(r)}
        layers = r["layers"]
        assert [v for _, v in panels["multipliers"]] == [l["multipliers"] or 0 for l in layers]
        assert panels["multipliers"][0][0] == "c\npe R2"
        assert [v for _, v in panels["cycles"]] == [l["latency_estimate_cycles"] for l in layers]
        assert [v for _, v in panels["memory"]] == [(l["registers_bits"], l["ram_bits"], l["rom_bits"])
                                                    for l in layers]
        assert panels["memory"][0][0] == "c\nw<16,6> r<16,6>"                      # the types a config sets
        if io_type == "io_stream":
            assert [v for _, v in panels["io_stream"]] == [f["depth"] for f in r["fifos"]]
            assert max(f["depth"] for f in r["fifos"]) > 2           # the skip copy waits for conv d
        else:
            assert "io_stream" not in panels
        R.plot_report(r, tmp_path / f"{io_type}.png")
        h, w = matplotlib.image.imread(str(tmp_path / f"{io_type}.png")).shape[:2]
        assert h >= 800 and w >= 1000


def test_strategy_overrides_in_the_header_and_only_where_a_kind_has_a_choice():
    """A config's per-layer strategy shows in the header; a pooling has one form, so no strategy;
    a Dense has two (unrolled, resource) and reports the model's."""
    from ikr_hls.config import LayerSettings

    graph = tiny_graph("unrolled", 2)
    conv = graph.layers[0]
    conv.settings = conv.settings.replace(strategy="pattern")       # as a LayerName.conv_a.Strategy sets it
    config = tiny_config("unrolled", 2)
    config.layers["conv_a"] = LayerSettings(strategy="pattern")
    r = build(graph, config)
    assert r["layer_strategies"] == {"c1": "pattern"} and by_name(r, "p1")["strategy"] is None
    assert by_name(r, "d1")["strategy"] == "unrolled"
    assert "strategy unrolled (c1: pattern)" in R.format_report(r).splitlines()[1]


def test_a_library_with_a_pattern_per_kernel_is_told_it_saves_nothing():
    """Six kernels on six patterns at reuse factor 2: six PE instances of 3 multipliers (18),
    against ceil(18 nonzero / 2) = 9 unrolled: the notes say so, with the numbers."""
    six = [[0, 4, 8], [1, 4, 7], [2, 4, 6], [3, 4, 5], [0, 1, 2], [6, 7, 8]]
    r = build(tiny_graph("pattern", 2, assign=[six[:3], six[3:]]), tiny_config("pattern", 2))
    c = by_name(r, "c1")
    assert c["multipliers"] == 6 * 3 and c["library_size"] == 6
    note = next(n for n in r["notes"] if n.startswith("c1: the pattern strategy needs"))
    assert "18 multipliers at reuse factor 2" in note and "unrolled strategy (9)" in note
    # reuse factor 1: one instance per kernel, as many multipliers as unrolled: no note
    r = build(tiny_graph("pattern", 1, assign=[six[:3], six[3:]]), tiny_config("pattern", 1))
    assert by_name(r, "c1")["multipliers"] == 18 and not any("pattern strategy needs" in n for n in r["notes"])
