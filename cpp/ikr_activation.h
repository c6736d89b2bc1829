// ikr-hls activation functions. Scalar ones are fused into conv/dense loops; softmax
// works on a vector. Floating-point versions: they reproduce Keras on the host (fixed-point
// forms: ikr_fixed.h).
#ifndef IKR_ACTIVATION_H_
#define IKR_ACTIVATION_H_

#include <cmath>

#include "ikr_bind.h"

namespace ikr {

template <typename T> inline T linear(T x) { return x; }

template <typename T> inline T relu(T x) { return x < T(0) ? T(0) : x; }   // NaN stays NaN, as TensorFlow's Relu

// ReLU6 compares with the integer 6 so that a type too narrow to hold 6 never builds one.
template <typename T> inline T relu6(T x) { return x > 6 ? T(6) : (x > T(0) ? x : T(0)); }

// Leaky ReLU: x, or x * alpha below zero (the product bound where B says, ikr_bind.h); both
// branches convert straight to the result type.
template <typename R, Binding B, typename T, typename A> inline R leaky_relu(T x, A alpha) {
    return x >= 0 ? R(x) : R(mul<B>(x, alpha));
}

template <typename T> inline T sigmoid(T x) { return T(1) / (T(1) + std::exp(-x)); }

template <typename T> inline T tanh(T x) { return std::tanh(x); }

// As Keras computes them (TensorFlow): relu6(x + 3) / 6, x times it, x * sigmoid(x), and the
// exact gelu 0.5 x (1 + erf(x / sqrt(2))).
template <typename T> inline T hard_sigmoid(T x) { return relu6(x + T(3)) / T(6); }

template <typename T> inline T hard_silu(T x) { return x * hard_sigmoid(x); }

template <typename T> inline T silu(T x) { return x * sigmoid(x); }

template <typename T> inline T gelu(T x) { return x * T(0.5) * (T(1) + std::erf(x / T(1.4142135623730951))); }

// Softmax over a vector, shifted by the maximum so that exp never overflows.
template <typename in_t, typename out_t, int N>
void softmax(const in_t in[N], out_t out[N]) {
#pragma HLS INLINE
    in_t max_value = in[0];
softmax_max:
    for (int i = 1; i < N; i++) {
        if (in[i] > max_value) max_value = in[i];
    }
    out_t sum = 0;
    out_t e[N];
#pragma HLS ARRAY_PARTITION variable=e complete
softmax_exp:
    for (int i = 0; i < N; i++) {
        e[i] = std::exp(out_t(in[i] - max_value));
        sum += e[i];
    }
    const out_t inv = out_t(1) / sum;
softmax_norm:
    for (int i = 0; i < N; i++) {
        out[i] = e[i] * inv;
    }
}

}  // namespace ikr

#endif
