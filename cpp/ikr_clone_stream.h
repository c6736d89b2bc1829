// ikr-hls io_stream fan-out: a stream read by several layers is copied once per reader, so that
// every stream of the DATAFLOW top function has one producer and one consumer. A copy moves
// one element (a pixel, or a whole vector) per cycle.
// Under -DIKR_DATAFLOW_CSIM (host only, ikr_dataflow.h) the top function's call registers the
// copy as a process of the DATAFLOW region, which calls it again in a thread of its own.
#ifndef IKR_CLONE_STREAM_H_
#define IKR_CLONE_STREAM_H_

#include "ikr_stream.h"

namespace ikr {

template <typename T, int W, int STEPS>
void clone_stream2(hls::stream<array<T, W> > &in, hls::stream<array<T, W> > &out0,
                   hls::stream<array<T, W> > &out1) {
#pragma HLS INLINE off
#ifdef IKR_DATAFLOW_CSIM
    if (dataflow::registering())
        return dataflow::register_process("copy of " + in.name(), "", &clone_stream2<T, W, STEPS>, in, out0, out1);
#endif
clone_steps:
    for (int i = 0; i < STEPS; i++) {
#pragma HLS PIPELINE II=1
        const array<T, W> element = in.read();
        out0.write(element);
        out1.write(element);
    }
}

template <typename T, int W, int STEPS>
void clone_stream3(hls::stream<array<T, W> > &in, hls::stream<array<T, W> > &out0,
                   hls::stream<array<T, W> > &out1, hls::stream<array<T, W> > &out2) {
#pragma HLS INLINE off
#ifdef IKR_DATAFLOW_CSIM
    if (dataflow::registering())
        return dataflow::register_process("copy of " + in.name(), "", &clone_stream3<T, W, STEPS>, in, out0, out1, out2);
#endif
clone_steps:
    for (int i = 0; i < STEPS; i++) {
#pragma HLS PIPELINE II=1
        const array<T, W> element = in.read();
        out0.write(element);
        out1.write(element);
        out2.write(element);
    }
}

}  // namespace ikr

#endif
