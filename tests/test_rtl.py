"""Gate-level evidence for the IKR PE (issue 17): the Verilog of each PE form, simulated with
Icarus Verilog, matches the numpy reference bit for bit; yosys synthesizes it.

Tests that need iverilog or yosys skip with a one-line reason when the tools are missing,
except under CI=true, where a missing tool fails: CI must run them (.ci/run installs them).
"""
import os

import numpy as np
import pytest

from ikr_hls import IKRHLSError
from ikr_hls.rtl import (dense_pe, find_tool, ikr_pe, library_from_positions, load_measured_table, pe_output,
                         random_library, random_vectors, render_pe, simulate_pe, sparse_pe, synthesize_pe)
from ikr_hls.rtl.spec import default_acc_bits


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


def test_yosys_synthesizes_a_tiny_pe():
    require_tools("yosys")
    spec = ikr_pe(library_from_positions(2, 2, [[0, 3], [1, 2], [0, 2]]), weight_bits=4, act_bits=4)
    result = synthesize_pe(spec, dsp=False)
    assert result.lut > 0 and result.depth > 0 and result.dsp == 0
    assert result.ff == 4 * 4 + 2 * 4 + 2 + spec.acc_bits                # input and output registers
    assert result.lut == sum(result.cells.get(f"LUT{n}", 0) for n in range(1, 7))


def test_shipped_table_records_its_command_version_and_every_form():
    table = load_measured_table()
    assert table["command"].startswith("python bench/pe_synthesis.py") and table["yosys"].startswith("Yosys ")
    rows = table["rows"]
    assert {r["form"] for r in rows} == {"ikr", "sparse", "dense"}
    assert {r["dsp_mapping"] for r in rows} == {True, False}
    for r in rows:
        assert {"kh", "keep", "weight_bits", "lut", "ff", "carry", "dsp", "depth"} <= set(r)
        assert r["lut"] == sum(r["cells"].get(f"LUT{n}", 0) for n in range(1, 7))
    first_try = [r for r in rows if r["form"] == "ikr" and r["kh"] == 3 and r["keep"] == 4
                 and r["library_size"] == 8 and r["weight_bits"] == 8]
    assert len(first_try) == 2 and all(len(r["library"]) == 8 for r in first_try)
    assert any(r["source"] and "lenet5_ikr" in r["source"] for r in rows)


def test_shipped_lenet5_libraries_simulate_bit_for_bit(tmp_path):
    require_tools("iverilog", "vvp")
    from ikr_hls.modelfile import load_keras_model
    from ikr_hls.patterns import patterns_from_kernel

    model = load_keras_model(os.path.join(os.path.dirname(__file__), "..", "examples", "models", "lenet5_ikr.h5"))
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert convs
    for layer in convs:
        found = patterns_from_kernel(layer.get_weights()[0])
        spec = ikr_pe(found.library, weight_bits=8, act_bits=8)
        assert spec.keep == found.keep and len(spec.library) == len(found.library)
        vectors = random_vectors(spec, 200, seed=5)
        got = simulate_pe(spec, *vectors, workdir=tmp_path / layer.name)
        assert (got == pe_output(spec, *vectors)).all(), layer.name
