// ikr-hls fan-out: a buffer read by several layers is copied once per reader, so that every
// buffer of the DATAFLOW top function has one producer and one consumer. A copy moves one
// step of LANES elements (a pixel, or a whole vector) per cycle.
#ifndef IKR_CLONE_H_
#define IKR_CLONE_H_

namespace ikr {

template <typename T, int N, int LANES>
void clone2(const T in[N], T out0[N], T out1[N]) {
#pragma HLS INLINE off
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
