// ikr-hls dataflow C simulation: host only, compiled under -DIKR_DATAFLOW_CSIM
// (`ikr-hls csim DIR --dataflow`, `hls.csim(dataflow=True)`); Vitis never sees it.
//
// A plain C simulation (Vitis's csim_design, `ikr-hls csim`) runs the calls of a DATAFLOW region
// one after the other over FIFOs of unbounded size, so a FIFO too shallow for the design, which
// deadlocks the hardware, passes. Here the top function's calls only register processes, and
// run() at the end of the region starts each as a thread that calls its function once per frame
// (the testbench's samples, back to back); every hls::stream blocks at the depth its declaration
// gives (hls::stream<T, DEPTH>: a read waits while it is empty, a write while it is full); every
// io_parallel buffer is a ping-pong channel of two slots, or as many as its pipo depth (a writer
// waits for a free slot, a reader for a full one); and each access may stall a short random time (seeded: IKR_DATAFLOW_SEED).
//
// Deadlock: a process waits only in such a read, write or slot request, and all of them change
// state under one mutex. So "every process that has not finished waits, and what each waits for
// is still not there" is a fact, checked exactly whenever a process starts to wait or finishes,
// never guessed from time passing: nothing can then wake any of them. The process that finds it
// writes one message (who waits for whom, from a process blocked on a full stream to the cycle
// or the finished process it leads to; then every full and every empty stream or buffer with
// the process waiting on it), wakes every process, which unwinds by an exception; run() joins
// the threads and throws the message. A testbench that calls the top once per sample without
// set_frames runs each call as a region of one frame. IKR_DATAFLOW_TIMEOUT (seconds, default 60) is the last
// resort for what is neither finishing nor blocked (a process looping forever without touching a
// stream, or a run too slow): the testbench prints where every process is and exits with code 1.
#ifndef IKR_DATAFLOW_H_
#define IKR_DATAFLOW_H_

#ifdef __SYNTHESIS__
#error "IKR_DATAFLOW_CSIM is a host-only build option"
#else   // host only: Vitis never compiles what follows

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// A call of the DATAFLOW region, as a process (the top function #defines each layer's name to
// it, so a layer's name must not be an identifier the expansion calls: register_process).
#define IKR_DATAFLOW_PROCESS(function, ...) \
    ::ikr::dataflow::register_process(#function, #__VA_ARGS__, &function, __VA_ARGS__)

namespace ikr {
namespace dataflow {

struct Process;

// What a process can wait on: a stream (empty or full) or a ping-pong buffer (no full slot, or
// no free one). Every member is used with the region's mutex held.
class Waitable {
  public:
    virtual ~Waitable() {}
    virtual bool can_read() const = 0;
    virtual bool can_write() const = 0;
    virtual std::string what() const = 0;                 // "stream 'x'", "buffer 'y'"
    virtual std::string state(bool write) const = 0;      // why a read or a write waits
    std::condition_variable changed;                      // notified on every change of state
    std::vector<const Process *> users;                   // its writer and its reader (a port: one)

    // The process at the other end from `p` (nullptr: the testbench, at a top-level port).
    const Process *other_than(const Process *p) const {
        for (const Process *user : users)
            if (user != p) return user;
        return nullptr;
    }
};

// One call of a process's function, for a given frame.
class Body {
  public:
    virtual ~Body() {}
    virtual void operator()(int frame) = 0;
};

struct Process {
    std::string name;
    std::unique_ptr<Body> frame;                          // one call of its function
    int at = 0;                                           // the frame it is on
    bool finished = false;
    const Waitable *waits_on = nullptr;
    bool waits_to_write = false;
    unsigned random = 1;                                  // its stalls (xorshift32, seeded by run())
};

struct Settings {
    int frames = 1;
    unsigned seed = 1;
    double timeout = 60.0;
};

inline Settings &settings() {
    static Settings s = [] {
        Settings read;
        if (const char *seed = std::getenv("IKR_DATAFLOW_SEED")) read.seed = unsigned(std::strtoul(seed, nullptr, 10));
        if (const char *timeout = std::getenv("IKR_DATAFLOW_TIMEOUT")) read.timeout = std::strtod(timeout, nullptr);
        return read;
    }();
    return s;
}

// The testbench: how many frames every process runs (its samples, back to back).
inline void set_frames(int frames) { settings().frames = frames; }

class Abort {};   // unwinds a process once the region stops (deadlock, or an error elsewhere)

// io_parallel: a buffer between two calls, a ping-pong channel of SLOTS slots (2, or the depth
// of its `STREAM type=pipo` pragma, given by slots() below) that its writer and its reader take
// in turn, as a ring.
class Slots : public Waitable {
  public:
    enum State { FREE, WRITING, FULL, READING };
    std::string name;
    explicit Slots(int slots) : state_(std::size_t(slots), FREE) {}
    bool can_read() const override { return state_[next_read_] == FULL; }
    bool can_write() const override { return state_[next_write_] == FREE; }
    std::string what() const override { return "buffer '" + name + "'"; }
    std::string state(bool write) const override {
        return write ? "no free slot (of " + std::to_string(state_.size()) + ")" : "no full slot";
    }
    void *take(bool write) {                       // the next slot in turn, which must be ready
        const int slot = write ? next_write_ : next_read_;
        state_[std::size_t(slot)] = write ? WRITING : READING;
        return data(slot);
    }
    void give(bool write) {
        int &next = write ? next_write_ : next_read_;
        state_[std::size_t(next)] = write ? FULL : FREE;
        next = (next + 1) % int(state_.size());
        changed.notify_all();
    }

  protected:
    virtual void *data(int slot) = 0;

  private:
    std::vector<State> state_;
    int next_write_ = 0, next_read_ = 0;
};

template <typename T>
class TypedSlots : public Slots {
  public:
    TypedSlots(int slots, std::size_t elements)
        : Slots(slots), slots_(std::size_t(slots), std::vector<T>(elements)) {}

  protected:
    void *data(int slot) override { return slots_[std::size_t(slot)].data(); }

  private:
    std::vector<std::vector<T> > slots_;
};

struct Port {                                             // a top-level array: all the frames, one after the other
    std::size_t elements;
    std::string name;
};

struct Region {
    std::mutex mutex;
    std::condition_variable done;
    std::vector<std::unique_ptr<Process> > processes;
    std::map<const void *, std::unique_ptr<Slots> > buffers;   // io_parallel: by the top's array
    std::map<const void *, int> slots;                        // a buffer's slots, when not 2
    std::map<const void *, Port> ports;                       // by the testbench's array
    int live = 0;
    bool aborting = false;
    std::string failure;
};

inline Region &region() {
    static Region r;
    return r;
}

inline std::mutex &mutex() { return region().mutex; }

inline Process *&current() {                              // the process this thread runs, if any
    static thread_local Process *p = nullptr;
    return p;
}

// The top: an io_parallel buffer that holds more than two frames (a skip connection's copy,
// `#pragma HLS STREAM variable=B type=pipo depth=N`), before the calls that use it.
inline void slots(const void *data, int depth) {
    std::lock_guard<std::mutex> lock(mutex());
    region().slots[data] = depth;
}

// The testbench: an io_parallel top-level array holds every frame, one after the other.
inline void port(const void *data, std::size_t elements, const char *name) {
    std::lock_guard<std::mutex> lock(mutex());
    region().ports[data] = Port{elements, name};
}

// A short random pause before an access, in a process (never with the mutex held).
inline void stall() {
    Process *p = current();
    if (p == nullptr) return;
    unsigned r = p->random;
    r ^= r << 13;
    r ^= r >> 17;
    r ^= r << 5;
    p->random = r;
    if (r % 8 == 0) std::this_thread::yield();
    if (r % 64 == 1) std::this_thread::sleep_for(std::chrono::microseconds(1 + (r >> 8) % 40));
}

inline std::string frame_of(const Process &p) {
    return "frame " + std::to_string(p.at + 1) + " of " + std::to_string(settings().frames);
}

// "conv1 (frame 3 of 10) waits to read stream 'x' (empty)", with the mutex held.
inline std::string waiting(const Process &p) {
    const Waitable &w = *p.waits_on;
    return p.name + " (" + frame_of(p) + ") waits to " + (p.waits_to_write ? "write " : "read ") + w.what() +
           " (" + w.state(p.waits_to_write) + ")";
}

// Where a process is, for the timeout's message.
inline std::string where(const Process &p) {
    if (p.finished) return p.name + ": finished";
    if (p.waits_on == nullptr) return p.name + " (" + frame_of(p) + "): running";
    return waiting(p);
}

// With the mutex held: does every unfinished process wait on something that is still not there?
inline bool everyone_blocked(const Region &r) {
    bool any = false;
    for (const auto &p : r.processes) {
        if (p->finished) continue;
        if (p->waits_on == nullptr) return false;
        if (p->waits_to_write ? p->waits_on->can_write() : p->waits_on->can_read()) return false;
        any = true;
    }
    return any;
}

// With the mutex held: stop every process (they unwind at their next wait or access).
inline void stop_all(Region &r, const std::string &why) {
    if (r.failure.empty()) r.failure = why;
    r.aborting = true;
    for (const auto &p : r.processes)
        if (p->waits_on != nullptr) const_cast<Waitable *>(p->waits_on)->changed.notify_all();
    r.done.notify_all();
}

// The deadlock, explained: each blocked process waits for the one at the other end of what it
// waits on; following that from the first process blocked on a full stream (else the first
// blocked) ends in a cycle, or at a process that has finished, or at the testbench.
inline std::string wait_chain(const Region &r) {
    const Process *start = nullptr;
    for (const auto &q : r.processes)
        if (!q->finished && (start == nullptr || (q->waits_to_write && !start->waits_to_write))) start = q.get();
    std::vector<const Process *> path;
    const Process *p = start;
    while (p != nullptr && !p->finished && p->waits_on != nullptr) {
        for (std::size_t i = 0; i < path.size(); i++)
            if (path[i] == p) {                                  // a cycle: from its full stream on
                std::vector<const Process *> cycle(path.begin() + long(i), path.end());
                std::size_t first = 0;
                for (std::size_t j = 0; j < cycle.size(); j++)
                    if (cycle[j]->waits_to_write) { first = j; break; }
                path.assign(cycle.begin() + long(first), cycle.end());
                path.insert(path.end(), cycle.begin(), cycle.begin() + long(first));
                p = nullptr;
                break;
            }
        if (p == nullptr) break;
        path.push_back(p);
        p = p->waits_on->other_than(p);
    }
    std::string text;
    for (const Process *q : path) {
        const Process *other = q->waits_on->other_than(q);
        text += (text.empty() ? "" : "; ") + waiting(*q) + ", which " +
                (other != nullptr ? other->name : std::string("the testbench")) +
                (q->waits_to_write ? " reads" : " writes");
    }
    if (p != nullptr && p->finished) text += ", which has finished its " + std::to_string(settings().frames) + " frames";
    else if (p == nullptr && !path.empty() && path.back()->waits_on->other_than(path.back()) != nullptr) text += ": a cycle";
    return text;
}

inline void declare_deadlock(Region &r, const char *top) {
    std::string full, empty, finished;
    for (const auto &p : r.processes) {
        if (p->finished) {
            finished += (finished.empty() ? "" : ", ") + p->name;
            continue;
        }
        std::string &list = p->waits_to_write ? full : empty;
        list += (list.empty() ? "" : ", ") + p->waits_on->what() + " (" + p->name + ")";
    }
    std::string message = std::string("deadlock in the DATAFLOW region of ") + top + ": every process is blocked. " +
                          wait_chain(r) + ". Full: " + (full.empty() ? "none" : full) + ". Empty: " +
                          (empty.empty() ? "none" : empty) + (finished.empty() ? "" : ". Finished: " + finished);
    stop_all(r, message);
}

inline const char *&top_name() {
    static const char *name = "the top function";
    return name;
}

// With `lock` on the mutex, in the thread of a process: wait until `w` can be read (or
// written). Elsewhere (the testbench's own thread) it returns at once: the caller's rule holds.
inline void wait_for(std::unique_lock<std::mutex> &lock, Waitable &w, bool write) {
    Process *p = current();
    if (p == nullptr) return;
    Region &r = region();
    for (;;) {
        if (r.aborting) throw Abort();
        if (write ? w.can_write() : w.can_read()) return;
        p->waits_on = &w;
        p->waits_to_write = write;
        if (everyone_blocked(r)) declare_deadlock(r, top_name());
        while (!r.aborting && !(write ? w.can_write() : w.can_read())) w.changed.wait(lock);
        p->waits_on = nullptr;
    }
}

// -- the processes --------------------------------------------------------------------------
inline std::vector<std::string> split_names(const char *text) {
    std::vector<std::string> names;
    std::string name;
    for (const char *c = text; ; c++) {
        if (*c == ',' || *c == '\0') {
            const std::size_t first = name.find_first_not_of(" \t\n"), last = name.find_last_not_of(" \t\n");
            names.push_back(first == std::string::npos ? "" : name.substr(first, last - first + 1));
            name.clear();
            if (*c == '\0') break;
        } else {
            name += *c;
        }
    }
    return names;
}

// One argument of a process's call. A reference parameter (a stream) takes the argument itself.
template <typename P>
struct Param;

template <typename X>
void note_user(X &waitable, const Process *p, std::true_type) { static_cast<Waitable &>(waitable).users.push_back(p); }
template <typename X>
void note_user(X &, const Process *, std::false_type) {}

template <typename U>
struct Param<U &> {
    U *object;
    template <typename A>
    Param(A &argument, const std::string &, const Process *user) : object(&argument) {
        note_user(*object, user, std::is_base_of<Waitable, U>());
    }
    void acquire(std::unique_lock<std::mutex> &) {}
    U &get(int) { return *object; }
    void release() {}
};

// A pointer with its number of elements (a clone's buffers, whose arrays decayed).
template <typename U>
struct Sized {
    U *data;
    std::size_t elements;
};

template <typename U>
Sized<U> sized(U *data, std::size_t elements) {
    return Sized<U>{data, elements};
}

// A pointer parameter is an io_parallel buffer (a ping-pong channel, found by the top's array)
// or a top-level port (the testbench's array of every frame): const T* is read, T* written.
template <typename Q>
struct Param<Q *> {
    typedef typename std::remove_const<Q>::type T;
    static const bool write = !std::is_const<Q>::value;
    Slots *slots = nullptr;
    T *port = nullptr;
    std::size_t elements = 0;
    T *held = nullptr;

    template <typename U, std::size_t N>
    Param(U (&array)[N], const std::string &name, const Process *user) { find(array, N, name, user); }
    template <typename U>
    Param(U *const &pointer, const std::string &name, const Process *user) { find(pointer, 0, name, user); }
    template <typename U>
    Param(const Sized<U> &buffer, const std::string &name, const Process *user) {
        find(buffer.data, buffer.elements, name, user);
    }

    void acquire(std::unique_lock<std::mutex> &lock) {
        if (slots == nullptr) return;
        wait_for(lock, *slots, write);
        held = static_cast<T *>(slots->take(write));
    }
    Q *get(int frame) { return slots != nullptr ? held : port + std::size_t(frame) * elements; }
    void release() {
        if (slots != nullptr) slots->give(write);
    }

  private:
    // A port the testbench gave, else the ping-pong channel of this array (made on first sight).
    void find(const void *data, std::size_t n, const std::string &name, const Process *user) {
        Region &r = region();
        const auto found = r.ports.find(data);
        if (found != r.ports.end()) {
            port = const_cast<T *>(static_cast<const T *>(data));
            elements = found->second.elements;
            return;
        }
        std::unique_ptr<Slots> &entry = r.buffers[data];
        if (!entry) {
            if (n == 0)
                throw std::logic_error("ikr-hls dataflow: argument '" + name +
                                       "' is neither an array of the top function nor a port the testbench gave");
            const auto depth = r.slots.find(data);
            entry.reset(new TypedSlots<T>(depth != r.slots.end() ? depth->second : 2, n));
        }
        if (entry->name.empty()) entry->name = name;
        slots = entry.get();
        slots->users.push_back(user);
    }
};

template <typename... P>
class Call : public Body {
  public:
    template <typename... A>
    Call(const Process *user, void (*function)(P...), const std::vector<std::string> &names, A &&... arguments)
        : Call(std::index_sequence_for<P...>(), user, function, names, std::forward<A>(arguments)...) {}

    void operator()(int frame) override { run(frame, std::index_sequence_for<P...>()); }

  private:
    template <std::size_t... I, typename... A>
    Call(std::index_sequence<I...>, const Process *user, void (*function)(P...), const std::vector<std::string> &names,
         A &&... arguments)
        : function_(function), params_(Param<P>(arguments, I < names.size() ? names[I] : "", user)...) {}

    template <std::size_t... I>
    void run(int frame, std::index_sequence<I...>) {
        stall();
        {
            std::unique_lock<std::mutex> lock(mutex());
            int acquired[] = {0, (std::get<I>(params_).acquire(lock), 0)...};
            (void)acquired;
        }
        function_(std::get<I>(params_).get(frame)...);
        std::lock_guard<std::mutex> lock(mutex());
        int released[] = {0, (std::get<I>(params_).release(), 0)...};
        (void)released;
    }

    void (*function_)(P...);
    std::tuple<Param<P>...> params_;
};

// Register a process: `function(arguments...)` once per frame, in a thread of its own when run()
// starts the region. `arguments_text` is the call's argument list as written (buffer names).
template <typename... P, typename... A>
void register_process(const std::string &name, const char *arguments_text, void (*function)(P...), A &&... arguments) {
    std::unique_ptr<Process> p(new Process);
    p->name = name;
    std::lock_guard<std::mutex> lock(mutex());
    p->frame.reset(new Call<P...>(p.get(), function, split_names(arguments_text), std::forward<A>(arguments)...));
    region().processes.push_back(std::move(p));
}

// The name of an io_parallel buffer or port, by its data (clones name their process after it).
inline std::string buffer_name(const void *data) {
    std::lock_guard<std::mutex> lock(mutex());
    const auto buffer = region().buffers.find(data);
    if (buffer != region().buffers.end()) return buffer->second->name;
    const auto port = region().ports.find(data);
    return port != region().ports.end() ? port->second.name : std::string("?");
}

// True in the top function's own thread, where a call registers a process instead of running.
inline bool registering() { return current() == nullptr; }

inline void thread_main(Process *p, int frames) {
    current() = p;
    Region &r = region();
    try {
        for (int f = 0; f < frames; f++) {
            {
                std::lock_guard<std::mutex> lock(r.mutex);
                if (r.aborting) throw Abort();
                p->at = f;
            }
            (*p->frame)(f);
        }
    } catch (const Abort &) {
    } catch (const std::exception &error) {
        std::lock_guard<std::mutex> lock(r.mutex);
        stop_all(r, p->name + " (" + frame_of(*p) + "): " + error.what());
    } catch (...) {
        std::lock_guard<std::mutex> lock(r.mutex);
        stop_all(r, p->name + " (" + frame_of(*p) + "): an exception that is not a std::exception");
    }
    std::lock_guard<std::mutex> lock(r.mutex);
    p->finished = true;
    p->waits_on = nullptr;
    r.live--;
    if (r.live == 0)
        r.done.notify_all();
    else if (!r.aborting && everyone_blocked(r))
        declare_deadlock(r, top_name());
}

// The end of the top function's region: start every registered process, wait until all have
// run every frame, or until the region stops (deadlock, an error: thrown here as one message).
inline void run(const char *top) {
    Region &r = region();
    const Settings &s = settings();
    std::vector<std::thread> threads;
    {
        std::lock_guard<std::mutex> lock(r.mutex);
        top_name() = top;
        r.live = int(r.processes.size());
        r.aborting = false;
        r.failure.clear();
        for (std::size_t i = 0; i < r.processes.size(); i++) {
            r.processes[i]->random = (s.seed * 1000003u + unsigned(i)) | 1u;   // xorshift: never 0
        }
    }
    for (auto &p : r.processes) threads.emplace_back(thread_main, p.get(), s.frames);
    {
        std::unique_lock<std::mutex> lock(r.mutex);
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(s.timeout));
        if (!r.done.wait_until(lock, deadline, [&r] { return r.live == 0; })) {
            // the last resort: threads that neither finish nor block cannot be stopped or joined
            std::string message = std::string("FAIL: timeout: the DATAFLOW region of ") + top +
                                  " neither finished nor deadlocked in " + std::to_string(int(s.timeout)) +
                                  " s (IKR_DATAFLOW_TIMEOUT)";
            for (const auto &p : r.processes) message += "; " + where(*p);
            std::printf("%s\n", message.c_str());
            std::fflush(stdout);
            std::_Exit(1);
        }
    }
    for (auto &t : threads) t.join();
    const std::string failure = r.failure;
    r.processes.clear();
    r.buffers.clear();
    if (!failure.empty()) throw std::runtime_error(failure);
}

}  // namespace dataflow
}  // namespace ikr

#endif  // __SYNTHESIS__
#endif
