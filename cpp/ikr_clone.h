// ikr-hls fan-out: a buffer read by several layers is copied once per reader, so that every
// buffer of the DATAFLOW top function has one producer and one consumer. A copy moves one
// step of LANES elements (a pixel, or a whole vector) per cycle.
// Under -DIKR_DATAFLOW_CSIM (host only, ikr_dataflow.h) the top function's call registers the
// copy as a process of the DATAFLOW region, which calls it again in a thread of its own.
#ifndef IKR_CLONE_H_
#define IKR_CLONE_H_

#ifdef IKR_DATAFLOW_CSIM
#include "ikr_dataflow.h"
#endif

namespace ikr {

template <typename T, int N, int LANES>
void clone2(const T in[N], T out0[N], T out1[N]) {
#pragma HLS INLINE off
#ifdef IKR_DATAFLOW_CSIM
    if (dataflow::registering())
        return dataflow::register_process("copy of " + dataflow::buffer_name(in), "", &clone2<T, N, LANES>,
                                 dataflow::sized(in, N), dataflow::sized(out0, N), dataflow::sized(out1, N));
#endif
clone_steps:
    for (int i = 0; i < N; i += LANES) {
#pragma HLS PIPELINE II=1
    clone_lanes:
        for (int l = 0; l < LANES; l++) {
            out0[i + l] = in[i + l];
            out1[i + l] = in[i + l];
        }
    }
}

template <typename T, int N, int LANES>
void clone3(const T in[N], T out0[N], T out1[N], T out2[N]) {
#pragma HLS INLINE off
#ifdef IKR_DATAFLOW_CSIM
    if (dataflow::registering())
        return dataflow::register_process("copy of " + dataflow::buffer_name(in), "", &clone3<T, N, LANES>, dataflow::sized(in, N),
                                 dataflow::sized(out0, N), dataflow::sized(out1, N), dataflow::sized(out2, N));
#endif
clone_steps:
    for (int i = 0; i < N; i += LANES) {
#pragma HLS PIPELINE II=1
    clone_lanes:
        for (int l = 0; l < LANES; l++) {
            out0[i + l] = in[i + l];
            out1[i + l] = in[i + l];
            out2[i + l] = in[i + l];
        }
    }
}

}  // namespace ikr

#endif
