// ikr-hls: where a helper's products go. The plan binds each layer's products to DSPs or to the
// fabric (docs/hardware.md, "Where the products go"); a layer's own products carry a BIND_OP in
// its code, and the helpers it calls (an activation's slope, a softmax's 1/sum) take the binding
// as a template parameter and multiply through mul<B>. BIND_OP takes its impl as a keyword, never
// a value a template parameter could give, so each binding has its own branch: B is a constant,
// and only its branch is built.
#ifndef IKR_BIND_H_
#define IKR_BIND_H_

namespace ikr {

// ANY: no BIND_OP, Vitis's choice (a floating-point layer: a host check, not a design).
enum Binding { ANY, DSP, FABRIC };

// a * c at full precision, the product bound where B says.
template <Binding B, typename A, typename C>
inline auto mul(const A &a, const C &c) -> decltype(a * c) {
#pragma HLS INLINE
    if (B == DSP) {
        const auto on_dsp = a * c;
#pragma HLS BIND_OP variable=on_dsp op=mul impl=dsp
        return on_dsp;
    }
    if (B == FABRIC) {
        const auto on_fabric = a * c;
#pragma HLS BIND_OP variable=on_fabric op=mul impl=fabric
        return on_fabric;
    }
    return a * c;
}

}  // namespace ikr

#endif
