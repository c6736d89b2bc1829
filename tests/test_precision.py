"""Fixed-point type strings and quantisation, against values worked out by hand."""
import numpy as np
import pytest

from ikr_hls import IKRHLSError
from ikr_hls.precision import FixedType, parse_fixed, parse_type, quantize, requantize


def test_parse_forms():
    assert parse_fixed("ap_fixed<16,6>") == FixedType(True, 16, 6, "AP_TRN", "AP_WRAP")
    assert parse_fixed("ap_ufixed<8, 3, AP_RND, AP_SAT>") == FixedType(False, 8, 3, "AP_RND", "AP_SAT")
    assert parse_fixed("ap_int<8>") == FixedType(True, 8, 8)
    assert parse_fixed("ap_uint<4>").max_code == 15
    assert parse_fixed("ap_fixed<8,3,AP_RND_CONV,AP_SAT>").cpp == "ap_fixed<8, 3, AP_RND_CONV, AP_SAT>"


@pytest.mark.parametrize("text,fragment", [
    ("ap_fixed<16>", "needs ap_fixed<width, integer"),
    ("ap_fixed<16,6,AP_ROUND>", "unknown quantization mode 'AP_ROUND'"),
    ("ap_fixed<16,6,AP_RND,AP_CLIP>", "unknown overflow mode 'AP_CLIP'"),
    ("ap_fixed<0,0>", "width must be"),
    ("fixed<16,6>", "is not an ap_fixed"),
])
def test_parse_errors(text, fragment):
    with pytest.raises(IKRHLSError, match=fragment.replace("(", r"\(").replace("<", "<")):
        parse_fixed(text)


def test_parse_type_takes_float_and_fixed():
    assert parse_type("float").is_float and parse_type(" double ").cpp == "double"
    assert parse_type("ap_fixed<16,6>") == parse_fixed("ap_fixed<16,6>")
    with pytest.raises(IKRHLSError, match="unknown type 'float16'.*ap_fixed"):
        parse_type("float16")


# ap_fixed<6,3>: 3 fractional bits, lsb 0.125, codes -32..31 (values -4.0 .. 3.875)
T = dict(signed=True, width=6, integer=3)


@pytest.mark.parametrize("mode,inputs,expected", [
    # x*8 = 1.5, 2.5, -1.5, -2.5, 1.2, -1.2 (in lsb units)
    ("AP_TRN",         [0.1875, 0.3125, -0.1875, -0.3125, 0.15, -0.15], [1, 2, -2, -3, 1, -2]),
    ("AP_TRN_ZERO",    [0.1875, 0.3125, -0.1875, -0.3125, 0.15, -0.15], [1, 2, -1, -2, 1, -1]),
    ("AP_RND",         [0.1875, 0.3125, -0.1875, -0.3125, 0.15, -0.15], [2, 3, -1, -2, 1, -1]),
    ("AP_RND_ZERO",    [0.1875, 0.3125, -0.1875, -0.3125, 0.15, -0.15], [1, 2, -1, -2, 1, -1]),
    ("AP_RND_MIN_INF", [0.1875, 0.3125, -0.1875, -0.3125, 0.15, -0.15], [1, 2, -2, -3, 1, -1]),
    ("AP_RND_INF",     [0.1875, 0.3125, -0.1875, -0.3125, 0.15, -0.15], [2, 3, -2, -3, 1, -1]),
    ("AP_RND_CONV",    [0.1875, 0.3125, -0.1875, -0.3125, 0.15, -0.15], [2, 2, -2, -2, 1, -1]),
])
def test_quantization_modes(mode, inputs, expected):
    t = FixedType(**T, quantization=mode)
    np.testing.assert_array_equal(quantize(inputs, t), np.array(expected) * 0.125)


@pytest.mark.parametrize("overflow,expected", [
    # 4.0 = code 32 -> wraps to -32; 5.0 = 40 -> -24; -4.125 = -33 -> 31
    ("AP_WRAP", [-4.0, -3.0, 3.875, 3.875]),
    ("AP_SAT", [3.875, 3.875, -4.0, 3.875]),
    ("AP_SAT_SYM", [3.875, 3.875, -3.875, 3.875]),
    ("AP_SAT_ZERO", [0.0, 0.0, 0.0, 3.875]),
])
def test_overflow_modes(overflow, expected):
    t = FixedType(**T, overflow=overflow)
    np.testing.assert_array_equal(quantize([4.0, 5.0, -4.125, 3.875], t), expected)


def test_unsigned_and_integer_types():
    # ap_int<W> is quantised as ap_fixed<W, W>: the arithmetic the generated code does.
    # (Assigning a double with a fraction straight to an ap_int truncates differently in the
    # headers; integer inputs, as below, agree.)
    np.testing.assert_array_equal(quantize([-1.0, 3.0, 16.0, 17.0], parse_fixed("ap_uint<4>")), [15, 3, 0, 1])
    np.testing.assert_array_equal(quantize([-1.0, 3.7, 16.0], parse_fixed("ap_ufixed<4,4,AP_RND,AP_SAT>")), [0, 4, 15])
    np.testing.assert_array_equal(quantize([127.0, -129.0, 128.0], parse_fixed("ap_int<8>")), [127, 127, -128])


def test_representable_values_are_fixed_points():
    t = parse_fixed("ap_fixed<16,6,AP_RND_CONV,AP_SAT>")
    x = np.random.default_rng(0).uniform(-40, 40, 1000)
    q = quantize(x, t)
    np.testing.assert_array_equal(quantize(q, t), q)
    assert q.max() <= 32 - 2 ** -10 and q.min() >= -32
    inside = np.abs(x) < 31
    assert np.all(np.abs(q[inside] - x[inside]) <= 2 ** -11)


@pytest.mark.parametrize("text", ["ap_fixed<6,3,AP_TRN>", "ap_fixed<6,3,AP_TRN_ZERO>", "ap_fixed<6,3,AP_RND>",
                                  "ap_fixed<6,3,AP_RND_ZERO>", "ap_fixed<6,3,AP_RND_MIN_INF>",
                                  "ap_fixed<6,3,AP_RND_INF>", "ap_fixed<6,3,AP_RND_CONV,AP_SAT>",
                                  "ap_fixed<6,3,AP_TRN,AP_SAT_SYM>", "ap_ufixed<5,2,AP_RND,AP_SAT_ZERO>",
                                  "ap_fixed<9,-2,AP_RND_CONV>", "ap_fixed<7,9,AP_RND>"])
def test_integer_requantize_agrees_with_float_quantize(text):
    """requantize (int64 codes, used by the hardware reference) and quantize (floats, checked
    by hand above) are two implementations of the same assignment."""
    t = parse_fixed(text)
    codes = np.arange(-3000, 3000, dtype=np.int64)          # values with 7 fractional bits
    via_int = requantize(codes, 7, t) * 2.0 ** -t.fractional
    via_float = quantize(codes * 2.0 ** -7, t)
    np.testing.assert_array_equal(via_int, via_float)


@pytest.mark.parametrize("in_t,w_t,b_t", [
    ("ap_fixed<16,6>", "ap_fixed<16,6>", "ap_fixed<16,6>"),
    ("ap_fixed<8,3>", "ap_fixed<8,1>", "ap_fixed<32,12>"),       # a bias wider than the products
    ("ap_ufixed<8,0>", "ap_fixed<6,2>", "ap_fixed<10,4>"),        # an unsigned input
    ("ap_fixed<10,4>", "ap_ufixed<5,1>", "ap_fixed<4,4>"),
])
def test_automatic_accumulators_hold_every_extreme_sum_exactly(in_t, w_t, b_t):
    """widen_for_sum: for every number of terms, the sums of extreme products (every sign)
    plus an extreme bias lie in the accumulator's range, on its grid."""
    from ikr_hls.precision import widen_for_sum

    t_in, t_w, t_b = parse_type(in_t), parse_type(w_t), parse_type(b_t)
    ends = lambda t: (t.min_code * t.lsb, t.max_code * t.lsb)      # noqa: E731
    products = [a * b for a in ends(t_in) for b in ends(t_w)]
    for terms in range(1, 40):
        acc = widen_for_sum(t_in, t_w, t_b, terms)
        lo, hi = ends(acc)
        assert terms * max(products) + ends(t_b)[1] <= hi, (terms, acc.cpp)
        assert terms * min(products) + ends(t_b)[0] >= lo, (terms, acc.cpp)
        assert acc.fractional >= max(t_in.fractional + t_w.fractional, t_b.fractional)
