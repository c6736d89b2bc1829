// ikr-hls per-element quantization (a quantization-aware model's quantizers, HGQ2's by default):
// each element of a tensor has its own fixed-point format, applied by a quantize step with
// constant tables indexed by the element (ikr_hls/kinds/quantize.py says how the tables are
// made). work_t holds the input and every constant exactly, in two's complement:
//   WRAP:     y = (x + add) & mask - offset       (round, then keep the element's bits)
//   SAT(_SYM) y = min(max((x + add) & mask, lo), hi)
// add holds the rounding constant (half an element's step for RND; half less one input step
// for RND_CONV, plus that step when the element's lowest kept bit is set: ties to even) and,
// for WRAP, the offset that moves a signed range to [0, 2^(I+K)). The numpy reference
// (ikr_hls/emulate.py) computes the same values from the element types themselves.
#ifndef IKR_QUANTIZE_H_
#define IKR_QUANTIZE_H_

#include "ikr_fixed.h"

namespace ikr {

// The bits of x that `mask` keeps, both of type work_t (two's complement, sign bit included).
template <class work_t, int W>
inline work_t keep_bits(const work_t &x, const work_t &mask) {
#pragma HLS INLINE
    work_t kept;
#ifdef IKR_HOST_INT
    kept.v = x.v & mask.v;     // the host model's codes are sign-extended integers
#else
    const ap_uint<W> bits = x.range(W - 1, 0) & mask.range(W - 1, 0);
    kept.range(W - 1, 0) = bits;
#endif
    return kept;
}

// x + step when the lowest kept bit of the element (the bit `lsb`) is set: RND_CONV's tie rule.
template <class work_t, int W>
inline work_t tie_to_even(const work_t &x, const work_t &lsb, const work_t &step) {
#pragma HLS INLINE
    const work_t bit = keep_bits<work_t, W>(x, lsb);
    return bit == 0 ? x : work_t(x + step);
}

template <class work_t, int W, class in_t>
inline work_t quantize_wrap(const in_t &x, const work_t &add, const work_t &mask, const work_t &offset) {
#pragma HLS INLINE
    const work_t moved = x + add;
    const work_t kept = keep_bits<work_t, W>(moved, mask);
    return kept - offset;
}

template <class work_t, int W, class in_t>
inline work_t quantize_sat(const in_t &x, const work_t &add, const work_t &mask, const work_t &lo, const work_t &hi) {
#pragma HLS INLINE
    const work_t moved = x + add;
    const work_t kept = keep_bits<work_t, W>(moved, mask);
    return kept < lo ? lo : (kept > hi ? hi : kept);
}

}  // namespace ikr

#endif
