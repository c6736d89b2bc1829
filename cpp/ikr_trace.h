// ikr-hls tracing build (-DIKR_TRACE, host only): the top function hands every layer's output
// to trace_record, so hls.trace(x) can show each layer beside Keras. Never part of Vitis.
#ifndef IKR_TRACE_H_
#define IKR_TRACE_H_

#ifdef IKR_TRACE

#ifdef __SYNTHESIS__
#error "IKR_TRACE is a host-only build option"
#endif

#include <vector>

namespace ikr {

inline std::vector<std::vector<double> > &trace_buffers() {
    static std::vector<std::vector<double> > buffers;
    return buffers;
}

template <typename T>
void trace_record(int layer, const T *values, int size) {
    std::vector<std::vector<double> > &buffers = trace_buffers();
    if ((int)buffers.size() <= layer) buffers.resize(layer + 1);
    for (int i = 0; i < size; i++) buffers[layer].push_back(double(values[i]));
}

// io_stream: every element the layer wrote into its stream during the call (ikr_stream.h keeps
// them in tracing builds)
template <typename E>
void trace_record(int layer, const std::vector<E> &written) {
    std::vector<std::vector<double> > &buffers = trace_buffers();
    if ((int)buffers.size() <= layer) buffers.resize(layer + 1);
    for (int e = 0; e < int(written.size()); e++)
        for (int i = 0; i < E::size; i++) buffers[layer].push_back(double(written[e][i]));
}

}  // namespace ikr

#endif  // IKR_TRACE
#endif
