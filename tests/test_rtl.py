"""Gate-level evidence for the IKR PE (issue 17): the Verilog of each PE form, simulated with
Icarus Verilog, matches the numpy reference bit for bit; yosys synthesizes it. The `rom` form
(the pe strategy's PE with its ROM of R kernels) also matches the HLS reference of
ikr_hls/kinds/conv2d/pe.py on the shipped LeNet-5's conv2.

Tests that need iverilog or yosys skip with a one-line reason when the tools are missing,
except under CI=true, where a missing tool fails: CI must run them (.ci/run installs them).
"""
import os

import numpy as np
import pytest

from ikr_hls import IKRHLSError
from ikr_hls.rtl import (
    FORMS,
    dense_pe,
    find_tool,
    ikr_pe,
    library_from_positions,
    load_measured_table,
    pe_output,
    random_library,
    random_rom,
    random_vectors,
    render_pe,
    rom_pe,
    rom_pe_of_plan,
    simulate_pe,
    sparse_pe,
    synthesize_pe,
)
from ikr_hls.rtl.spec import default_acc_bits

LENET = os.path.join(os.path.dirname(__file__), "..", "examples", "models", "lenet5_ikr.h5")


def require_tools(*names):
    """Skip (or, under CI, fail) unless every tool is on PATH."""
    try:
        for name in names:
            find_tool(name)
    except IKRHLSError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the RTL tests: {exc}", pytrace=False)
        pytest.skip(str(exc))


# Libraries whose patterns share positions at some slots: only distinct positions are muxed.
SHARED = library_from_positions(3, 3, [[0, 4, 8], [0, 4, 6], [2, 4, 6], [1, 4, 7], [0, 1, 2]])
# (name, IKR spec); the sparse and dense PEs of each case take the same kernel, keep and widths
CASES = {
    "3x3-keep4-L8-8bit": ikr_pe(random_library(3, 3, 4, 8, seed=1), weight_bits=8, act_bits=8),
    "5x5-keep3-L4-16bit": ikr_pe(random_library(5, 5, 3, 4, seed=2), weight_bits=16, act_bits=16),
    "3x3-keep3-L5-shared-6x5bit": ikr_pe(SHARED, weight_bits=6, act_bits=5),
    "3x3-keep4-L8-8bit-acc10-wraps": ikr_pe(random_library(3, 3, 4, 8, seed=3), acc_bits=10),
    "1x3-keep2-L1": ikr_pe(library_from_positions(1, 3, [[0, 2]]), weight_bits=4, act_bits=3),
}


def form_spec(case: str, form: str):
    ikr = CASES[case]
    narrow = {"acc_bits": ikr.acc_bits} if case.endswith("wraps") else {}
    if form == "ikr":
        return ikr
    if form == "sparse":
        return sparse_pe(ikr.kh, ikr.kw, ikr.keep, ikr.weight_bits, ikr.act_bits, **narrow)
    return dense_pe(ikr.kh, ikr.kw, ikr.weight_bits, ikr.act_bits, **narrow)


@pytest.mark.tools
@pytest.mark.parametrize("form", ["ikr", "sparse", "dense"])
@pytest.mark.parametrize("case", list(CASES))
def test_simulation_matches_reference_bit_for_bit(case, form, tmp_path):
    require_tools("iverilog", "vvp")
    spec = form_spec(case, form)
    window, weights, select = random_vectors(spec, 400, seed=len(case))
    expected = pe_output(spec, window, weights, select)
    got = simulate_pe(spec, window, weights, select, workdir=tmp_path)
    bad = np.flatnonzero(got != expected)
    assert bad.size == 0, (f"{spec.describe()}: {bad.size} of {len(got)} results differ; first at vector "
                           f"{bad[0]}: Verilog {got[bad[0]]}, reference {expected[bad[0]]} (files in {tmp_path})")


def test_vectors_reach_the_extremes_and_the_narrow_accumulator_wraps():
    spec = form_spec("3x3-keep4-L8-8bit-acc10-wraps", "dense")
    window, weights, select = random_vectors(spec, 400, seed=0)
    a, w = spec.act_type, spec.weight_type
    assert (window == a.min_code).all(axis=1).any() and (window == a.max_code).all(axis=1).any()
    assert (weights == w.min_code).any() and (weights == w.max_code).any()
    exact = (window * weights).sum(axis=1)
    wrapped = pe_output(spec, window, weights, select)
    assert (wrapped != exact).any()
    assert wrapped.min() >= -(1 << 9) and wrapped.max() < (1 << 9)
    assert ((wrapped - exact) % (1 << 10) == 0).all()            # the same value modulo 2**ACC


def test_default_accumulator_cannot_overflow():
    for spec in (CASES["3x3-keep4-L8-8bit"], form_spec("5x5-keep3-L4-16bit", "dense")):
        assert spec.acc_bits == default_acc_bits(spec.weight_bits, spec.act_bits, spec.keep)
        a, w = spec.act_type, spec.weight_type
        worst = spec.keep * a.min_code * w.min_code                 # the largest sum of products
        assert worst <= spec.acc_type.max_code and -worst >= spec.acc_type.min_code
    assert CASES["3x3-keep4-L8-8bit"].acc_bits == 8 + 8 + 2
    assert form_spec("5x5-keep3-L4-16bit", "dense").acc_bits == 16 + 16 + 5


def test_ikr_multiplexers_take_only_distinct_positions():
    spec = CASES["3x3-keep3-L5-shared-6x5bit"]
    # slot 0: positions 0 (patterns 0, 1, 4), 1 (3), 2 (2); slot 1: 4 everywhere but pattern 4
    assert spec.slot_positions(0) == [(0, [0, 1, 4]), (1, [3]), (2, [2])]
    assert spec.slot_positions(1) == [(1, [4]), (4, [0, 1, 2, 3])]
    text = render_pe(spec)
    assert "3'd0, 3'd1, 3'd4: x0 = window_q[0 +: 5];" in text
    assert "3'd0, 3'd1, 3'd2, 3'd3: x1 = window_q[20 +: 5];" in text
    assert "default: x0 = {5{1'bx}};" in text                     # ids 5..7 name no pattern
    single = render_pe(CASES["1x3-keep2-L1"])
    assert "case" not in single and "always @* x1 = window_q[6 +: 3];" in single


def test_select_and_index_widths():
    assert CASES["3x3-keep4-L8-8bit"].select_bits == 3
    assert CASES["1x3-keep2-L1"].select_bits == 1                  # at least one bit
    assert CASES["3x3-keep3-L5-shared-6x5bit"].select_bits == 3
    assert sparse_pe(5, 5, 3).select_bits == 3 * 5 and sparse_pe(3, 3, 4).index_bits == 4
    assert dense_pe(3, 3).select_bits == 0 and "pattern" not in render_pe(dense_pe(3, 3))


@pytest.mark.parametrize("make, message", [
    (lambda: ikr_pe(library_from_positions(3, 3, [[0, 1], [2, 3, 4]])), "irregular"),
    (lambda: ikr_pe(library_from_positions(3, 3, [[0, 1], [1, 0]])), "twice"),
    (lambda: ikr_pe(library_from_positions(3, 3, [[0, 1]]), keep=3), "keep=3"),
    (lambda: ikr_pe(np.zeros((0, 3, 3), bool)), "empty"),
    (lambda: ikr_pe(np.ones((2, 9))), "bool"),
    (lambda: sparse_pe(3, 3, 10), "keep"),
    (lambda: dense_pe(3, 3, weight_bits=1), "weight_bits"),
    (lambda: dense_pe(3, 3, acc_bits=60), "acc_bits"),
    (lambda: random_library(3, 3, 1, 16, seed=0), "only 9 patterns"),
])
def test_bad_parameters_raise_one_line_errors(make, message):
    with pytest.raises(IKRHLSError, match=message) as info:
        make()
    assert "\n" not in str(info.value)


def test_reference_checks_its_inputs():
    spec = CASES["3x3-keep4-L8-8bit"]
    window, weights, select = random_vectors(spec, 3, seed=0)
    with pytest.raises(IKRHLSError, match="0..7"):
        pe_output(spec, window, weights, select + 8)
    with pytest.raises(IKRHLSError, match=r"-128..127"):
        pe_output(spec, window + 200, weights, select)


def test_missing_tool_skips_with_a_one_line_reason_or_fails_under_ci(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(IKRHLSError, match="apt-get install -y yosys iverilog"):
        find_tool("yosys")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="yosys not found") as skipped:
        require_tools("yosys")
    assert "\n" not in str(skipped.value)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run"):
        require_tools("iverilog")


@pytest.mark.tools
def test_yosys_synthesizes_a_tiny_pe():
    require_tools("yosys")
    spec = ikr_pe(library_from_positions(2, 2, [[0, 3], [1, 2], [0, 2]]), weight_bits=4, act_bits=4)
    result = synthesize_pe(spec, dsp=False)
    assert result.lut > 0 and result.depth > 0 and result.dsp == 0
    assert result.ff == 4 * 4 + 2 * 4 + 2 + spec.acc_bits                # input and output registers
    assert result.ff_by_register == {"window_q": 4 * 4, "weights_q": 2 * 4, "pattern_q": 2, "result": spec.acc_bits}
    assert result.lut == sum(result.cells.get(f"LUT{n}", 0) for n in range(1, 7))


def test_shipped_table_records_its_command_version_and_every_form():
    table = load_measured_table()
    assert table["command"].startswith("python bench/pe_synthesis.py") and table["yosys"].startswith("Yosys ")
    rows = table["rows"]
    assert {"ikr", "sparse", "dense"} <= {r["form"] for r in rows} <= set(FORMS)
    assert {r["dsp_mapping"] for r in rows} == {True, False}
    for r in rows:
        assert {"kh", "keep", "weight_bits", "lut", "ff", "carry", "dsp", "depth"} <= set(r)
        assert r["lut"] == sum(r["cells"].get(f"LUT{n}", 0) for n in range(1, 7))
    first_try = [r for r in rows if r["form"] == "ikr" and r["kh"] == 3 and r["keep"] == 4
                 and r["library_size"] == 8 and r["weight_bits"] == 8]
    assert len(first_try) == 2 and all(len(r["library"]) == 8 for r in first_try)
    assert any(r["source"] and "lenet5_ikr" in r["source"] for r in rows)


@pytest.mark.tools
def test_shipped_lenet5_libraries_simulate_bit_for_bit(tmp_path):
    require_tools("iverilog", "vvp")
    from ikr_hls.modelfile import load_keras_model
    from ikr_hls.patterns import patterns_from_kernel

    model = load_keras_model(LENET)
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert convs
    for layer in convs:
        found = patterns_from_kernel(layer.get_weights()[0])
        spec = ikr_pe(found.library, weight_bits=8, act_bits=8)
        assert spec.keep == found.keep and len(spec.library) == len(found.library)
        vectors = random_vectors(spec, 200, seed=5)
        got = simulate_pe(spec, *vectors, workdir=tmp_path / layer.name)
        assert (got == pe_output(spec, *vectors)).all(), layer.name


# --- the rom form: the pe strategy's PE with its ROM of R kernels ---------------------------

def _rom_case(library, depth, idle=(), **widths):
    spec = ikr_pe(library, **widths)
    slots = random_rom(len(spec.library), spec.keep, depth, spec.weight_bits, seed=depth + len(spec.library))
    for r in idle:
        slots[r] = None
    return rom_pe(library, slots, **widths)


ROM_CASES = {
    "3x3-keep4-L8-R4-8bit": _rom_case(random_library(3, 3, 4, 8, seed=1), 4),
    "5x5-keep3-L4-R8-16bit": _rom_case(random_library(5, 5, 3, 4, seed=2), 8, weight_bits=16, act_bits=16),
    "3x3-keep3-L5-shared-R3-idle-6x5bit": _rom_case(SHARED, 3, idle=(1,), weight_bits=6, act_bits=5),
    "3x3-keep4-L8-R2-acc10-wraps": _rom_case(random_library(3, 3, 4, 8, seed=3), 2, acc_bits=10),
    "1x3-keep2-L1-R1": _rom_case(library_from_positions(1, 3, [[0, 2]]), 1, weight_bits=4, act_bits=3),
    "3x3-keep2-L8-R16-8bit": _rom_case(random_library(3, 3, 2, 8, seed=4), 16),
}


@pytest.mark.tools
@pytest.mark.parametrize("case", list(ROM_CASES))
def test_rom_pe_simulation_matches_reference_bit_for_bit_at_every_cycle(case, tmp_path):
    require_tools("iverilog", "vvp")
    spec = ROM_CASES[case]
    window, weights, cycles = random_vectors(spec, 400, seed=len(case))
    assert weights is None and set(cycles.tolist()) == set(range(spec.depth))      # every ROM address
    expected = pe_output(spec, window, None, cycles)
    got = simulate_pe(spec, window, None, cycles, workdir=tmp_path)
    bad = np.flatnonzero(got != expected)
    assert bad.size == 0, (f"{spec.describe()}: {bad.size} of {len(got)} results differ; first at vector {bad[0]} "
                           f"(cycle {cycles[bad[0]]}): Verilog {got[bad[0]]}, reference {expected[bad[0]]}")


def test_rom_reference_is_the_ikr_pe_fed_from_the_rom():
    """The rom PE at cycle r computes what the ikr PE computes with the ROM's word r as inputs."""
    spec = ROM_CASES["3x3-keep3-L5-shared-R3-idle-6x5bit"]
    ikr = ikr_pe(SHARED, weight_bits=6, act_bits=5)
    window, _, cycles = random_vectors(spec, 300, seed=9)
    pattern_ids, weights = spec.rom_arrays()
    assert (pe_output(spec, window, None, cycles)
            == pe_output(ikr, window, weights[cycles], pattern_ids[cycles])).all()
    assert spec.rom[1] is None and (pe_output(spec, window, None, np.ones(len(window), int)) == 0).all()
    wraps = ROM_CASES["3x3-keep4-L8-R2-acc10-wraps"]
    window, _, cycles = random_vectors(wraps, 400, seed=0)
    wrapped = pe_output(wraps, window, None, cycles)
    exact = (window[np.arange(len(window))[:, None], wraps.library_array()[wraps.rom_arrays()[0][cycles]]]
             * wraps.rom_arrays()[1][cycles]).sum(axis=1)
    assert (wrapped != exact).any() and ((wrapped - exact) % (1 << 10) == 0).all()


def test_rom_verilog_holds_the_rom_words():
    # weights (-1, 2) of 4 bits: weight 0 at bits 0..3 (-1 = 0xf), weight 1 at bits 4..7 (2): word 0x2f
    library = library_from_positions(1, 3, [[0, 2], [0, 1]])
    spec = rom_pe(library, [(1, [-1, 2]), None, (0, [3, -8])], weight_bits=4, act_bits=3)
    text = render_pe(spec)
    assert "2'd0: begin pattern_rom = 1'd1; weights_rom = 8'h2f; end" in text
    assert "2'd1: begin pattern_rom = 1'd0; weights_rom = 8'h00; end" in text          # idle: zeros
    assert "2'd2: begin pattern_rom = 1'd0; weights_rom = 8'h83; end" in text           # 3, -8 = 0x8
    assert "default: begin pattern_rom = {1{1'bx}}; weights_rom = {8{1'bx}}; end" in text   # cycle 3
    assert "input  wire [1:0] cycle," in text and "weights," not in text
    assert "cycle 1: idle" in text and "weights_q <= weights_rom;" in text
    full = rom_pe(library, [(1, [0, 0])] * 4, weight_bits=4, act_bits=3)
    assert "default" not in render_pe(full).split("case (cycle)")[1].split("endcase")[0]


@pytest.mark.parametrize("make, message", [
    (lambda: rom_pe(SHARED, []), "at least one kernel"),
    (lambda: rom_pe(SHARED, [(5, [1, 2, 3])]), "pattern id 5 not in 0..4"),
    (lambda: rom_pe(SHARED, [(0, [1, 2])]), "2 weights"),
    (lambda: rom_pe(SHARED, [(0, [1, 2, 128])]), "-128..127"),
    (lambda: rom_pe(SHARED, [7]), "expected None or"),
])
def test_bad_rom_raises_one_line_errors(make, message):
    with pytest.raises(IKRHLSError, match=message) as info:
        make()
    assert "\n" not in str(info.value)


def test_rom_reference_checks_its_inputs():
    spec = ROM_CASES["3x3-keep4-L8-R4-8bit"]
    window, _, cycles = random_vectors(spec, 5, seed=0)
    with pytest.raises(IKRHLSError, match="weights=None"):
        pe_output(spec, window, np.zeros((5, 4), int), cycles)
    with pytest.raises(IKRHLSError, match=r"0\.\.3"):
        pe_output(spec, window, None, cycles + 4)


@pytest.mark.tools
def test_yosys_keeps_the_rom_in_luts_and_counts_every_cell():
    """No memory primitive that `stat`'s LUT count would miss, with the ROM as logic (R < 8)
    and as an inferred memory (yosys's proc_rom turns a case of 8 or more constants into one)."""
    require_tools("yosys")
    counted = {"CARRY4", "DSP48E1", "FDRE", "FDSE", "INV", "MUXF7", "MUXF8"} | {f"LUT{n}" for n in range(1, 7)}
    library = random_library(3, 3, 2, 4, seed=7)
    for depth, dsp in ((4, False), (8, False), (8, True)):
        spec = rom_pe(library, random_rom(4, 2, depth, 8, seed=depth), weight_bits=8, act_bits=8)
        result = synthesize_pe(spec, dsp=dsp)
        assert set(result.cells) <= counted, f"R={depth}: uncounted cells {set(result.cells) - counted}"
        assert result.lut > 0 and result.dsp == (2 if dsp else 0)
        assert sum(result.ff_by_register.values()) == result.ff
        assert set(result.ff_by_register) <= {"window_q", "weights_q", "pattern_q", "result"}
        # the ROM word: at most keep x W weight bits and 2 pattern-id bits stay registered
        assert result.ff_by_register.get("weights_q", 0) <= 2 * 8
        assert result.ff_by_register.get("pattern_q", 0) <= 2


def _lenet_conv2_pe_layer(tmp_path):
    """The shipped LeNet-5 converted with strategy pe, R=4, ap_fixed<16,6>: its conv2 layer and
    the type of conv2's input."""
    import ikr_hls
    from ikr_hls.modelfile import load_keras_model

    hls = ikr_hls.convert(load_keras_model(LENET), output_dir=str(tmp_path / "prj"), precision="ap_fixed<16,6>",
                          strategy="pe", reuse_factor=4)
    layers = {layer.name: layer for layer in hls.graph.layers}
    conv2 = layers["conv2"]
    return conv2, layers[conv2.inputs[0]].precision["result"]


@pytest.mark.tools
def test_lenet5_conv2_rom_pes_match_rtl_reference_and_hls_reference(tmp_path):
    """conv_pe.plan(kernel, 4) of the shipped LeNet-5's conv2, kernel in ap_fixed<16,6>: for a few
    PEs, the Verilog (iverilog), the RTL reference (pe_output) and the HLS reference of the pe
    strategy (conv_pe.accumulate) give the same sums, cycle by cycle. Windows are random in conv2's
    input type on the PE's input channel and zero elsewhere, the accumulators start at zero, so
    conv_pe.accumulate leaves in acc[co] exactly the sum of the kernel (ci, co) that the PE runs."""
    require_tools("iverilog", "vvp")
    from ikr_hls import codes as C
    from ikr_hls.kinds.conv2d import pe as conv_pe
    from ikr_hls.precision import to_codes

    conv2, in_t = _lenet_conv2_pe_layer(tmp_path)
    kernel = conv2.weights["kernel"]
    kh, kw, c, f = kernel.shape
    plan = conv_pe.plan(kernel, 4)
    assert plan == conv_pe.plan_of(conv2)                      # the converter's plan is this one
    weight_t, acc_t = C.fixed_types(conv2)["weight"], C.fixed_types(conv2)["accum"]
    product_frac = in_t.fractional + weight_t.fractional
    # the RTL sums integer codes at the products' binary point; the HLS accumulator keeps them
    assert acc_t.fractional == product_frac and acc_t.overflow == "AP_WRAP"
    codes = to_codes(kernel, weight_t)
    w_codes = codes.transpose(2, 0, 1, 3).reshape(c * kh * kw, f)     # as conv2d.reference
    rng = np.random.default_rng(4)
    own = [p for p in range(len(plan.pes)) if len(plan.channels(p)) == 1]
    checked = 0
    for pe in (own[0], own[len(own) // 2], own[-1]):
        spec = rom_pe_of_plan(plan, pe, codes, weight_bits=weight_t.width, act_bits=in_t.width)
        assert spec.depth == 4 and spec.keep == plan.keep and spec.acc_bits <= acc_t.width
        (ci,) = plan.channels(pe)
        n = 150
        windows = np.zeros((n, c * kh * kw), dtype=np.int64)
        windows[:, ci * kh * kw:(ci + 1) * kh * kw] = rng.integers(in_t.min_code, in_t.max_code + 1, (n, kh * kw))
        acc = conv_pe.accumulate(conv2, windows, w_codes, product_frac, np.zeros((n, f), np.int64), acc_t)
        window = windows[:, ci * kh * kw:(ci + 1) * kh * kw]
        cycles = np.repeat(np.arange(spec.depth), n)
        hls = np.concatenate([acc[:, slot[1]] if slot else np.zeros(n, np.int64) for slot in plan.pes[pe]])
        rtl = pe_output(spec, np.tile(window, (spec.depth, 1)), None, cycles)
        assert (rtl == hls).all(), f"PE {pe}: the RTL reference and conv_pe.accumulate differ"
        got = simulate_pe(spec, np.tile(window, (spec.depth, 1)), None, cycles, workdir=tmp_path / f"pe{pe}")
        assert (got == hls).all(), f"PE {pe}: the Verilog and conv_pe.accumulate differ"
        checked += int((hls != 0).sum())
    assert checked > 0.9 * 3 * 4 * 150                        # real sums, not zeros


def test_a_shared_pe_of_the_plan_is_refused():
    from ikr_hls.kinds.conv2d import pe as conv_pe
    from ikr_hls.patterns import patterns_from_kernel

    kernel = np.zeros((3, 3, 2, 3))
    kernel[0, 0] = kernel[1, 1] = 1.0                           # every kernel: positions 0 and 4
    plan = conv_pe.plan(kernel, 2)                              # 3 kernels a channel: one PE each, 1 left
    shared = [p for p in range(len(plan.pes)) if len(plan.channels(p)) > 1]
    assert shared and len(patterns_from_kernel(kernel).library) == 1
    codes = np.ones(kernel.shape, dtype=np.int64)
    with pytest.raises(IKRHLSError, match="shared PE"):
        rom_pe_of_plan(plan, shared[0], codes)
    spec = rom_pe_of_plan(plan, 0, codes)
    assert spec.rom == ((0, (1, 1)), (0, (1, 1)))
