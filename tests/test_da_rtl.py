"""Gate-level evidence for strategy="da" (issue 28 item 4): da4ml's Verilog of a layer's solved
adder graph (the same traced CombLogic the HLS code is written from), simulated with Icarus
Verilog, gives matrix @ x bit for bit; yosys synthesizes it with no DSP.

Tests that need iverilog or yosys skip with a one-line reason when the tools are missing,
except under CI=true, where a missing tool fails (tests/test_rtl.py's require_tools).
"""
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("da4ml")

from ikr_hls import IKRHLSError  # noqa: E402
from ikr_hls.da import solve_matrix  # noqa: E402
from ikr_hls.da.evaluate import random_codes, reference  # noqa: E402
from ikr_hls.da.matrix import ConstantMatrix, conv_kernel_matrix  # noqa: E402
from ikr_hls.da.verilog import check_rtl, extreme_codes, ports, synthesize_solution  # noqa: E402
from ikr_hls.hls_model import plan_model  # noqa: E402
from ikr_hls.precision import parse_fixed  # noqa: E402
from test_rtl import require_tools  # noqa: E402

MODEL = Path(__file__).resolve().parents[1] / "examples" / "models" / "lenet5_ikr.h5"


@pytest.fixture(scope="module")
def conv1_8bit():
    """LeNet-5 IKR conv1's matrix at 8-bit weights (the fewest integer bits that hold its largest
    weight, as bench/da_gates.py quantises), inputs of the layer's ap_fixed<16,6>."""
    graph, _, _ = plan_model(str(MODEL), precision="ap_fixed<16,6>")
    layer = next(layer for layer in graph.layers if layer.name == "conv1")
    kernel = np.asarray(layer.weights["kernel"], dtype=np.float64)
    integer = max(math.ceil(math.log2(float(np.abs(kernel).max()))), -6) + 1
    m = conv_kernel_matrix("conv1", kernel, layer.input_types[0], parse_fixed(f"ap_fixed<8,{integer},AP_RND,AP_SAT>"))
    return m, solve_matrix(m, use_cache=False)


def vectors(m: ConstantMatrix, count: int = 600) -> np.ndarray:
    return np.concatenate([extreme_codes(m), random_codes(m, count, seed=3)])


@pytest.mark.tools
def test_lenet5_conv1_verilog_is_bit_exact(conv1_8bit, tmp_path):
    require_tools("iverilog", "vvp")
    m, s = conv1_8bit
    x = vectors(m)
    result = check_rtl(m, s, x, workdir=tmp_path)
    assert result.vectors == len(x) and result.exact
    np.testing.assert_array_equal(result.outputs, reference(m, x))
    # the extremes reach the columns' largest sums of either sign
    want = reference(m, x)
    assert (want.max(axis=0) == np.maximum(m.codes, 0).sum(axis=0) * m.in_type.max_code
            - np.minimum(m.codes, 0).sum(axis=0) * -m.in_type.min_code).all()


@pytest.mark.tools
def test_a_planted_mismatch_fails(conv1_8bit, tmp_path):
    """One expected output one unit off: both the testbench and the numpy comparison see it."""
    require_tools("iverilog", "vvp")
    m, s = conv1_8bit
    x = vectors(m, 50)
    want = reference(m, x)
    want[7, 2] += 1
    result = check_rtl(m, s, x, expected=want, workdir=tmp_path)
    assert not result.exact
    assert result.testbench_mismatches == 1 and result.mismatches == 1


@pytest.mark.tools
def test_zero_and_even_columns_decode_exactly(tmp_path):
    """A column of zeros has no wires (its value is 0); a column of even codes may leave da4ml's
    graph with an output worth 2 or 4 per unit (out_shift): the decoding reads both."""
    require_tools("iverilog", "vvp")
    codes = np.array([[4, 0, 3, -8], [12, 0, -5, 0], [-8, 0, 7, 16], [4, 0, 0, 24]], dtype=np.int64)
    t = parse_fixed("ap_fixed<6,6>")
    m = ConstantMatrix("even", codes, tuple((i,) for i in range(4)), t, parse_fixed("ap_fixed<6,6>"))
    s = solve_matrix(m, use_cache=False)
    p = ports(s.comb)
    assert not p.present[1]
    assert any(f.fractional < 0 for f, present in zip(p.outputs, p.present, strict=True) if present)
    x = vectors(m, 200)
    result = check_rtl(m, s, x, workdir=tmp_path)
    assert result.exact
    np.testing.assert_array_equal(result.outputs, reference(m, x))


def test_inputs_outside_the_input_type_raise(conv1_8bit):
    m, s = conv1_8bit
    x = random_codes(m, 4, seed=0)
    x[0, 0] = m.in_type.max_code + 1
    with pytest.raises(IKRHLSError, match=r"conv1: input codes outside ap_fixed<16, ?6>"):
        check_rtl(m, s, x)
    with pytest.raises(IKRHLSError, match=r"conv1: input vectors of shape \(4, 3\)"):
        check_rtl(m, s, x[:, :3])


@pytest.mark.tools
def test_yosys_synthesizes_conv1_with_no_dsp(conv1_8bit):
    require_tools("yosys")
    m, s = conv1_8bit
    result = synthesize_solution(m, s, timeout=300)
    p = ports(s.comb)
    assert result.dsp == 0 and result.lut > 0 and result.carry > 0 and result.depth > 0
    # every input of conv1's matrix is read and every output has wires: the two registers whole
    assert result.ff == p.in_bits + p.out_bits
    assert result.ff_by_register == {"inp_q": p.in_bits, "q": p.out_bits}
