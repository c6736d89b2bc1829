// ikr-hls: the type of a small unsigned field of a ROM word (a kernel's pattern id, its input
// channel, the partial sum it adds to: the pe strategy, docs/hardware.md).
//
// In synthesis the field is ap_uint<N>, so the ROM is exactly as wide as the report counts.
// Elsewhere (the host model, csim) only its value matters: an unsigned int holds it, and a
// float project needs no ap types on the host.
#ifndef IKR_INDEX_H_
#define IKR_INDEX_H_

#ifdef __SYNTHESIS__
#include "ap_int.h"
#endif

namespace ikr {

#ifdef __SYNTHESIS__
template <int N>
using uint_t = ap_uint<N>;
#else
template <int N>
using uint_t = unsigned int;
#endif

}  // namespace ikr

#endif
