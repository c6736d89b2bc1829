// ikr-hls io_stream: the element of a stream between layers (one pixel: a channel vector, or a
// whole vector), and hls::stream itself.
//
// Vitis HLS (synthesis, and csim with -DIKR_VITIS_HLS_STREAM, which build_prj.tcl passes, or a
// host build with $XILINX_HLS set) uses its own hls_stream.h. Elsewhere, the host model and
// g++ csim use the small hls::stream below, written from the documented behaviour (UG1399,
// "HLS Stream Library": a FIFO of unbounded size in C simulation; read, write, empty, full,
// size). It differs on purpose in one way: reading an empty stream throws std::runtime_error
// naming the stream, where Vitis's C simulation would warn and hang or read garbage, so the
// Python model reports the error (a dataflow that reads more than it was given would deadlock
// in hardware). ikr::expect_drained throws when data is left in a stream at the end of a call.
#ifndef IKR_STREAM_H_
#define IKR_STREAM_H_

#ifndef __SYNTHESIS__
#include <stdexcept>
#include <string>
#endif

#ifdef __SYNTHESIS__
#include "hls_stream.h"
#elif defined(IKR_VITIS_HLS_STREAM)   // Vitis csim, or a host build with $XILINX_HLS
#include "hls_stream.h"
#else
#include <deque>
#ifdef IKR_TRACE
#include <vector>
#endif

namespace hls {

template <typename T>
class stream {
  public:
    stream() : name_("stream") {}
    explicit stream(const char *name) : name_(name) {}
    stream(const stream &) = delete;                 // as Vitis: a stream is not copied
    stream &operator=(const stream &) = delete;

    T read() {
        if (fifo_.empty()) throw std::runtime_error("ikr-hls: stream '" + name_ + "' read while empty");
        T value = fifo_.front();
        fifo_.pop_front();
        return value;
    }
    void read(T &value) { value = read(); }
    void write(const T &value) {
        fifo_.push_back(value);
#ifdef IKR_TRACE
        written.push_back(value);
#endif
    }
    bool empty() const { return fifo_.empty(); }
    bool full() const { return false; }              // C simulation: unbounded, as Vitis's
    size_t size() const { return fifo_.size(); }
    const std::string &name() const { return name_; }
#ifdef IKR_TRACE
    std::vector<T> written;                          // host tracing: every element ever written
#endif

  private:
    std::string name_;
    std::deque<T> fifo_;
};

}  // namespace hls
#endif

namespace ikr {

// One stream element: N values of type T (a pixel's channels, or a whole vector). Local
// copies are AGGREGATEd into one wide register by the layers; in the FIFOs between layers
// the N values travel together, as hls4ml's io_stream arrays.
template <typename T, int N>
struct array {
    typedef T value_type;
    static const int size = N;
    T data[N];
    T &operator[](int i) { return data[i]; }
    const T &operator[](int i) const { return data[i]; }
};

#ifndef __SYNTHESIS__
// Host only: a stream that still holds data after a call means a layer read less than its
// producer wrote; in hardware the next call would start out of step.
template <typename T>
void expect_drained(hls::stream<T> &s, const char *name) {
    if (!s.empty())
        throw std::runtime_error(std::string("ikr-hls: stream '") + name +
                                 "' still holds data at the end of the call (a layer read less than was written)");
}
#endif

}  // namespace ikr

#endif
