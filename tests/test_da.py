"""ikr_hls/da: a layer's constant matrix, its da4ml adder graph, the cache and the solve bound.
The graph must compute matrix @ x exactly on random integer inputs (da4ml's own evaluations)."""
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("da4ml")

from ikr_hls import IKRHLSError  # noqa: E402
from ikr_hls.da import csd_digits, fall_back_reason, layer_matrix, solve_matrix  # noqa: E402
from ikr_hls.da.bound import csd_weight  # noqa: E402
from ikr_hls.da.cache import solutions_dir  # noqa: E402
from ikr_hls.da.evaluate import mismatches, random_codes  # noqa: E402
from ikr_hls.da.matrix import ConstantMatrix, conv_kernel_matrix  # noqa: E402
from ikr_hls.hls_model import plan_model  # noqa: E402
from ikr_hls.precision import to_codes  # noqa: E402

MODEL = Path(__file__).resolve().parents[1] / "examples" / "models" / "lenet5_ikr.h5"


@pytest.fixture(scope="module")
def lenet():
    graph, _, _ = plan_model(str(MODEL), precision="ap_fixed<16,6>")
    return {layer.name: layer for layer in graph.layers}


def test_conv_matrix_is_the_window_product(lenet):
    """Rows are the window's used (row, column, channel) positions; matrix @ window codes is the
    conv's sum of products for every filter."""
    layer = lenet["conv2"]
    m = layer_matrix(layer)
    kernel = layer.weights["kernel"]
    kh, kw, c, f = kernel.shape
    used = [(i, j, ch) for i in range(kh) for j in range(kw) for ch in range(c) if np.any(kernel[i, j, ch] != 0)]
    assert list(m.rows) == used and m.shape == (len(used), f)
    assert m.nonzero == np.count_nonzero(to_codes(kernel, layer.precision["weight"]))
    rng = np.random.default_rng(1)
    window = rng.integers(m.in_type.min_code, m.in_type.max_code, size=(kh, kw, c))
    want = np.einsum("ijc,ijcf->f", window, to_codes(kernel, layer.precision["weight"]))
    x = np.array([window[r] for r in m.rows])
    assert np.array_equal(x @ m.codes, want)


@pytest.mark.parametrize("name", ["conv2", "fc3"])
def test_solution_is_bit_exact(lenet, name):
    m = layer_matrix(lenet[name])
    s = solve_matrix(m)
    assert s.multipliers == 0 and s.adders > 0 and len(s.adder_widths) == s.adders
    assert s.depth >= 1 and s.shape == m.shape and s.solve_seconds >= 0
    x = random_codes(m, 2000, seed=3)
    assert mismatches(m, s, x) == 0
    # extreme codes too: every input at its minimum, then at its maximum
    ends = np.array([[m.in_type.min_code] * m.shape[0], [m.in_type.max_code] * m.shape[0]])
    assert mismatches(m, s, ends, python_samples=2) == 0
    # the comparison can fail: the same graph against a matrix one code off
    codes = m.codes.copy()
    codes[np.flatnonzero(codes.any(axis=1))[0], 0] += 1
    assert mismatches(type(m)(m.layer, codes, m.rows, m.in_type, m.weight_type), s, x) > 0


def test_cache_returns_the_same_graph(lenet, caplog):
    m = layer_matrix(lenet["conv1"])
    first = solve_matrix(m)
    again = solve_matrix(m)
    assert again.cached and (again.digest, again.adders, again.adder_widths, again.depth) == \
        (first.digest, first.adders, first.adder_widths, first.depth)
    assert mismatches(m, again, random_codes(m, 500)) == 0
    # a damaged file is solved again, with a warning, never trusted
    (solutions_dir() / f"{m.digest()}.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        fresh = solve_matrix(m)
    assert not fresh.cached and "does not load" in caplog.text
    # the digest follows the types
    wider = type(m)(m.layer, m.codes, m.rows, m.in_type, type(m.weight_type)(True, 18, 6))
    assert wider.digest() != m.digest()


def test_degenerate_matrices(lenet):
    """All-zero codes, a zero column, and a conv whose kernels are all pruned away (no rows)."""
    layer = lenet["conv2"]
    t, w_t = layer.input_types[0], layer.precision["weight"]
    adders = []
    for codes in (np.zeros((3, 2), np.int64), np.array([[0, 3], [0, -5]]), np.array([[7]])):
        m = ConstantMatrix("m", codes, tuple((i,) for i in range(len(codes))), t, w_t)
        s = solve_matrix(m, use_cache=False)
        assert mismatches(m, s, random_codes(m, 50)) == 0
        adders.append(s.adders)
    assert adders[0] == 0 and adders[2] == 1          # 7 = 8 - 1: one subtracter
    m = conv_kernel_matrix("empty", np.zeros((3, 3, 2, 4)), t, w_t)
    s = solve_matrix(m)
    assert m.shape == (0, 4) and s.adders == 0 and s.comb is None
    assert mismatches(m, s, random_codes(m, 5)) == 0


def test_csd_weight_is_the_non_adjacent_form():
    for n in range(-300, 301):
        assert csd_weight(n) == bin(((3 * abs(n)) ^ abs(n)) >> 1).count("1")


def test_solve_bound(lenet, caplog):
    m = layer_matrix(lenet["conv2"])
    digits = csd_digits(m)
    assert fall_back_reason(m) is None
    assert fall_back_reason(m, max_digits=digits) is None
    with caplog.at_level(logging.WARNING):
        reason = fall_back_reason(m, max_digits=digits - 1)
    assert reason and "conv2" in reason and "unrolled" in reason and reason in caplog.text


def test_errors(lenet, monkeypatch):
    with pytest.raises(IKRHLSError, match="Conv2D and Dense"):
        layer_matrix(lenet["pool1"])
    graph, _, _ = plan_model(str(MODEL), precision="float")
    with pytest.raises(IKRHLSError, match="fixed-point"):
        layer_matrix(next(layer for layer in graph.layers if layer.name == "conv1"))
    monkeypatch.setitem(sys.modules, "da4ml.cmvm", None)
    with pytest.raises(IKRHLSError, match=r"ikr-hls\[da\]"):
        solve_matrix(layer_matrix(lenet["conv1"]), use_cache=False)
