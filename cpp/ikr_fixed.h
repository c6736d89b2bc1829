// ikr-hls fixed-point helpers: table indexing and the lookup-table softmax. Included by
// defines.h only when the project uses ap_fixed types. The numpy reference
// (ikr_hls/emulate.py) computes exactly the same steps.
#ifndef IKR_FIXED_H_
#define IKR_FIXED_H_

#ifdef IKR_HOST_INT
#include "ikr_host_fixed.h"
#else
#include "ap_fixed.h"
#endif

#include "ikr_bind.h"

namespace ikr {

// min(floor(x * 2^SHIFT), LIMIT) for a value x >= 0, read from its bits: no multiplier.
template <int SHIFT, int LIMIT, int W, int I, ap_q_mode Q, ap_o_mode O, int N>
inline int floor_index(const ap_fixed<W, I, Q, O, N> &x) {
    const ap_uint<W> bits = x.range(W - 1, 0);
    const unsigned long long raw = bits.to_uint64();       // x * 2^(W - I)
    const int drop = (W - I) - SHIFT;
    const unsigned long long idx = drop >= 0 ? (raw >> drop) : (raw << -drop);
    return idx > (unsigned long long)LIMIT ? LIMIT : int(idx);
}

template <int SHIFT, int LIMIT, int W, int I, ap_q_mode Q, ap_o_mode O, int N>
inline int floor_index(const ap_ufixed<W, I, Q, O, N> &x) {
    const ap_uint<W> bits = x.range(W - 1, 0);
    const unsigned long long raw = bits.to_uint64();
    const int drop = (W - I) - SHIFT;
    const unsigned long long idx = drop >= 0 ? (raw >> drop) : (raw << -drop);
    return idx > (unsigned long long)LIMIT ? LIMIT : int(idx);
}

// A sigmoid/tanh by table: table[min(floor((x + RANGE) * 2^SHIFT), TABLE - 1)], and table[0]
// below -RANGE. shifted_t holds x + RANGE exactly.
template <typename shifted_t, int SHIFT, int TABLE, int RANGE, typename in_t, typename table_t>
inline table_t lut_lookup(const in_t &x, const table_t table[TABLE]) {
    const shifted_t s = x + RANGE;
    const int index = s < 0 ? 0 : floor_index<SHIFT, TABLE - 1>(s);   // one read of the ROM, not two
    return table[index];
}

// A silu or gelu by table: x times its gate (sigmoid, Phi) read as lut_lookup reads it; 0
// below -RANGE and x from RANGE on (the gate is 0 or 1 there, to the table's precision). The
// products are bound where B says (ikr_bind.h), as in the helpers below.
template <typename shifted_t, int SHIFT, int TABLE, int RANGE, typename out_t, Binding B, typename in_t,
          typename table_t>
inline out_t gated_lookup(const in_t &x, const table_t table[TABLE]) {
    const shifted_t s = x + RANGE;
    const table_t gate = table[s < 0 ? 0 : floor_index<SHIFT, TABLE - 1>(s)];
    return s < 0 ? out_t(0) : (s >= RANGE + RANGE ? out_t(x) : out_t(mul<B>(x, gate)));
}

// hard_sigmoid(x) = relu6(x + 3) / 6, piecewise linear: s = x + 3 held exactly (shifted_t), 0 at
// s <= 0 and 1 at s >= 6 exactly, else s times the constant 1/6 (slope) into the result.
template <typename shifted_t, typename out_t, Binding B, typename in_t, typename slope_t>
inline out_t hard_sigmoid_fx(const in_t &x, const slope_t &slope) {
    const shifted_t s = x + 3;
    return s <= 0 ? out_t(0) : (s >= 6 ? out_t(1) : out_t(mul<B>(s, slope)));
}

// hard_silu(x) = x * hard_sigmoid(x): 0 at s <= 0, x at s >= 6, else x times the gate s * 1/6,
// rounded to gate_t first.
template <typename shifted_t, typename gate_t, typename out_t, Binding B, typename in_t, typename slope_t>
inline out_t hard_silu_fx(const in_t &x, const slope_t &slope) {
    const shifted_t s = x + 3;
    const gate_t gate = mul<B>(s, slope);
    return s <= 0 ? out_t(0) : (s >= 6 ? out_t(x) : out_t(mul<B>(x, gate)));
}

// Softmax by two lookup tables (see ikr_hls/tables.py): exp of the distance to the maximum,
// then one reciprocal of the sum shared by every output. The exp table comes in COPIES
// identical copies, value i reading copy i / PER_COPY, so that no ROM is read more than its
// ports allow in one step. The products by 1/sum are bound where B says (ikr_bind.h).
template <typename in_t, typename diff_t, typename exp_t, typename sum_t, typename inv_t, typename out_t,
          int N, int TABLE, int EXP_SHIFT, int INV_SHIFT, int COPIES, int PER_COPY, Binding B>
void softmax_lut(const in_t in[N], out_t out[N], const exp_t exp_table[COPIES][TABLE], const inv_t inv_table[TABLE]) {
#pragma HLS INLINE
    in_t max_value = in[0];
softmax_max:
    for (int i = 1; i < N; i++) {
#pragma HLS UNROLL
        if (in[i] > max_value) max_value = in[i];
    }
    exp_t e[N];
#pragma HLS ARRAY_PARTITION variable=e complete
    sum_t sum = 0;
softmax_exp:
    for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
        const diff_t d = max_value - in[i];
        e[i] = exp_table[i / PER_COPY][floor_index<EXP_SHIFT, TABLE - 1>(d)];
        sum += e[i];
    }
    const inv_t inv = inv_table[floor_index<INV_SHIFT, TABLE - 1>(sum)];
softmax_norm:
    for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
        out[i] = out_t(mul<B>(e[i], inv));
    }
}

}  // namespace ikr

#endif
