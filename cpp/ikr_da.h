// ikr-hls distributed arithmetic (strategy "da", docs/distributed_arithmetic.md): the shift of
// an adder graph's operand. da_shift<S>(x) is x * 2^S as the same bits read with the binary
// point S places to the left (S < 0: to the right): a wire, no operator. The graph's adders
// add such shifted values into variables of exactly the width their values need.
#ifndef IKR_DA_H_
#define IKR_DA_H_

#include "ikr_fixed.h"

namespace ikr {

template <int S, int W, int I, ap_q_mode Q, ap_o_mode O, int N>
inline ap_fixed<W, I + S> da_shift(const ap_fixed<W, I, Q, O, N> &x) {
#pragma HLS INLINE
    ap_fixed<W, I + S> r;
#ifdef IKR_HOST_INT
    r.v = x.v;  // the host model's code: value = v * 2^-(W - I)
#else
    r.range(W - 1, 0) = x.range(W - 1, 0);
#endif
    return r;
}

template <int S, int W, int I, ap_q_mode Q, ap_o_mode O, int N>
inline ap_ufixed<W, I + S> da_shift(const ap_ufixed<W, I, Q, O, N> &x) {
#pragma HLS INLINE
    ap_ufixed<W, I + S> r;
#ifdef IKR_HOST_INT
    r.v = x.v;
#else
    r.range(W - 1, 0) = x.range(W - 1, 0);
#endif
    return r;
}

}  // namespace ikr

#endif
