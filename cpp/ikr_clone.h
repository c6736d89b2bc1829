// ikr-hls fan-out: a buffer read by several layers is copied once per reader, so that every
// buffer of the DATAFLOW top function has one producer and one consumer.
#ifndef IKR_CLONE_H_
#define IKR_CLONE_H_

namespace ikr {

template <typename T, int N>
void clone2(const T in[N], T out0[N], T out1[N]) {
clone_loop:
    for (int i = 0; i < N; i++) {
#pragma HLS PIPELINE II=1
        out0[i] = in[i];
        out1[i] = in[i];
    }
}

template <typename T, int N>
void clone3(const T in[N], T out0[N], T out1[N], T out2[N]) {
clone_loop:
    for (int i = 0; i < N; i++) {
#pragma HLS PIPELINE II=1
        out0[i] = in[i];
        out1[i] = in[i];
        out2[i] = in[i];
    }
}

}  // namespace ikr

#endif
