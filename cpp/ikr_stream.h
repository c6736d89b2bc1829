// ikr-hls io_stream: the element of a stream between layers (one pixel: a channel vector, or a
// whole vector), and hls::stream itself.
//
// Vitis HLS (synthesis, and csim with -DIKR_VITIS_HLS_STREAM, which build_prj.tcl passes, or a
// host build with $XILINX_HLS set) uses its own hls_stream.h. Elsewhere, the host model and
// g++ csim use the small hls::stream below, written from the documented behaviour (UG1399,
// "HLS Stream Library": a FIFO of unbounded size in C simulation; read, write, empty, full,
// size; hls::stream<T, DEPTH> declares a FIFO of DEPTH elements, as a STREAM pragma would,
// and derives from hls::stream<T>). It differs on purpose in one way: reading an empty stream
// throws std::runtime_error naming the stream, where Vitis's C simulation would warn and hang
// or read garbage, so the Python model reports the error (a dataflow that reads more than it
// was given would deadlock in hardware). ikr::expect_drained throws when data is left in a
// stream at the end of a call. Under -DIKR_DATAFLOW_CSIM (`ikr-hls csim --dataflow`,
// ikr_dataflow.h) a stream is a FIFO of its DEPTH shared by threads: in a process, a read waits
// while it is empty and a write while it holds DEPTH elements (DEPTH 0: unbounded).
#ifndef IKR_STREAM_H_
#define IKR_STREAM_H_

#ifndef __SYNTHESIS__
#include <stdexcept>
#include <string>
#endif

#if defined(IKR_DATAFLOW_CSIM) && (defined(__SYNTHESIS__) || defined(IKR_VITIS_HLS_STREAM))
#error "IKR_DATAFLOW_CSIM runs on ikr-hls's host stream, not Vitis's hls_stream.h"
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
#ifdef IKR_DATAFLOW_CSIM
#include "ikr_dataflow.h"
#endif

namespace hls {

template <typename T, int DEPTH = 0>
class stream;

// hls::stream<T>: unbounded (C simulation), or the base of a FIFO of DEPTH elements
template <typename T>
class stream<T, 0>
#ifdef IKR_DATAFLOW_CSIM
    : public ikr::dataflow::Waitable
#endif
{
  public:
    stream() : name_("stream") {}
    explicit stream(const char *name) : name_(name) {}
    stream(const stream &) = delete;                 // as Vitis: a stream is not copied
    stream &operator=(const stream &) = delete;

    T read() {
#ifdef IKR_DATAFLOW_CSIM
        ikr::dataflow::stall();
        std::unique_lock<std::mutex> lock(ikr::dataflow::mutex());
        ikr::dataflow::wait_for(lock, *this, false);  // a process waits while it is empty
#endif
        if (fifo_.empty()) throw std::runtime_error("ikr-hls: stream '" + name_ + "' read while empty");
        T value = fifo_.front();
        fifo_.pop_front();
#ifdef IKR_DATAFLOW_CSIM
        changed.notify_all();
#endif
        return value;
    }
    void read(T &value) { value = read(); }
    void write(const T &value) {
#ifdef IKR_DATAFLOW_CSIM
        ikr::dataflow::stall();
        std::unique_lock<std::mutex> lock(ikr::dataflow::mutex());
        ikr::dataflow::wait_for(lock, *this, true);   // a process waits while it is full
#endif
        fifo_.push_back(value);
#ifdef IKR_TRACE
        written.push_back(value);
#endif
#ifdef IKR_DATAFLOW_CSIM
        changed.notify_all();
#endif
    }
    bool empty() const {
#ifdef IKR_DATAFLOW_CSIM
        std::lock_guard<std::mutex> lock(ikr::dataflow::mutex());
#endif
        return fifo_.empty();
    }
    bool full() const {                              // C simulation: never, as Vitis's
#ifdef IKR_DATAFLOW_CSIM
        std::lock_guard<std::mutex> lock(ikr::dataflow::mutex());
        return !can_write();
#else
        return false;
#endif
    }
    size_t size() const {
#ifdef IKR_DATAFLOW_CSIM
        std::lock_guard<std::mutex> lock(ikr::dataflow::mutex());
#endif
        return fifo_.size();
    }
    const std::string &name() const { return name_; }
#ifdef IKR_TRACE
    std::vector<T> written;                          // host tracing: every element ever written
#endif
#ifdef IKR_DATAFLOW_CSIM
    // ikr::dataflow::Waitable, with the mutex held
    bool can_read() const override { return !fifo_.empty(); }
    bool can_write() const override { return depth_ == 0 || fifo_.size() < size_t(depth_); }
    std::string what() const override { return "stream '" + name_ + "'"; }
    std::string state(bool write) const override {
        return write ? "full: " + std::to_string(fifo_.size()) + " of depth " + std::to_string(depth_) : "empty";
    }
#endif

  protected:
    int depth_ = 0;                                  // 0: unbounded

  private:
    std::string name_;
    std::deque<T> fifo_;
};

// hls::stream<T, DEPTH>: a FIFO of DEPTH elements (Vitis: the same depth a STREAM pragma sets)
template <typename T, int DEPTH>
class stream : public stream<T, 0> {
  public:
    stream() { this->depth_ = DEPTH; }
    explicit stream(const char *name) : stream<T, 0>(name) { this->depth_ = DEPTH; }
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
