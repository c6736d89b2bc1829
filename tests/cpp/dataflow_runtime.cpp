// Small DATAFLOW regions run by cpp/ikr_dataflow.h (tests/test_dataflow_csim.py builds this with
// -DIKR_DATAFLOW_CSIM): `dataflow_runtime SCENARIO [ARG]` prints "ok" or the region's message,
// and returns 0, or 1 when the region stopped.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <thread>

#include "ikr_stream.h"

namespace {

typedef hls::stream<int> ints;

// A writes 3 elements to `s`, then one to `t`; B reads `t` first, then the 3 of `s`: at depth
// 2, A waits on a full `s` and B on an empty `t`, a deadlock; at depth 3 both finish.
void three_then_one(ints &s, ints &t) {
    for (int i = 0; i < 3; i++) s.write(i);
    t.write(7);
}

void one_then_three(ints &t, ints &s, ints &out) {
    int sum = t.read();
    for (int i = 0; i < 3; i++) sum += s.read();
    out.write(sum);
}

template <int DEPTH>
void fork_region(ints &out) {
#pragma HLS DATAFLOW
    hls::stream<int, DEPTH> s("s");
    hls::stream<int, 2> t("t");
    ikr::dataflow::register_process("A", "s, t", &three_then_one, s, t);
    ikr::dataflow::register_process("B", "t, s, out", &one_then_three, t, s, out);
    ikr::dataflow::run("fork_region");
}

// io_parallel: a producer and a consumer of a buffer of 4 values, over ping-pong slots (2, or
// as many as `pingpong N` asks, as a skip connection's pipo depth does).
int slots = 2;
std::atomic<int> produced(0), consumed(0);
std::atomic<bool> overlap_seen(false), slot_reused_early(false);

void produce(const int in[4], int out[4]) {
    const int frame = produced.load();
    if (frame >= slots && consumed.load() < frame - slots + 1) slot_reused_early = true;   // slots, no more
    for (int i = 0; i < 4; i++) out[i] = in[i] * 10;
    produced = frame + 1;
}

void consume(const int in[4], int out[4]) {
    if (consumed.load() == 0) {        // frame 0 holds a slot: the producer still fills the others
        for (int wait = 0; wait < 5000 && produced.load() < slots; wait++)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        overlap_seen = produced.load() >= slots;
    }
    for (int i = 0; i < 4; i++) out[i] = in[i] + 1;
    consumed = consumed.load() + 1;
}

void pingpong_region(const int input[4], int output[4]) {
#pragma HLS DATAFLOW
    int middle[4];
    if (slots != 2) ikr::dataflow::slots(middle, slots);
    ikr::dataflow::register_process("produce", "input, middle", &produce, input, middle);
    ikr::dataflow::register_process("consume", "middle, output", &consume, middle, output);
    ikr::dataflow::run("pingpong_region");
}

void spin(ints &in, ints &out) {
    volatile bool forever = true;
    while (forever) {
    }
    out.write(in.read());
}

void throws(ints &in, ints &out) {
    out.write(in.read());
    throw std::runtime_error("a layer's own error");
}

void pass(ints &in, ints &out) { out.write(in.read()); }

void two_stage_region(void (*first)(ints &, ints &), ints &in, ints &out) {
#pragma HLS DATAFLOW
    hls::stream<int, 2> middle("middle");
    ikr::dataflow::register_process("first", "in, middle", first, in, middle);
    ikr::dataflow::register_process("second", "middle, out", &pass, middle, out);
    ikr::dataflow::run("two_stage_region");
}

}  // namespace

int main(int argc, char **argv) {
    const std::string scenario = argc > 1 ? argv[1] : "";
    try {
        if (scenario == "fork") {
            ints out("out");
            ikr::dataflow::set_frames(3);
            if (argc > 2 && std::strcmp(argv[2], "3") == 0)
                fork_region<3>(out);
            else
                fork_region<2>(out);
            for (int f = 0; f < 3; f++)
                if (out.read() != 10) throw std::runtime_error("wrong sum");
        } else if (scenario == "pingpong") {
            if (argc > 2) slots = std::atoi(argv[2]);
            const int frames = 6;
            int input[frames * 4], output[frames * 4];
            for (int i = 0; i < frames * 4; i++) input[i] = i;
            ikr::dataflow::set_frames(frames);
            ikr::dataflow::port(input, 4, "input");
            ikr::dataflow::port(output, 4, "output");
            pingpong_region(input, output);
            for (int i = 0; i < frames * 4; i++)
                if (output[i] != i * 10 + 1) throw std::runtime_error("wrong output");
            if (!overlap_seen) throw std::runtime_error("the producer never filled every other slot");
            if (slot_reused_early) throw std::runtime_error("the producer took a slot still being read");
        } else if (scenario == "spin" || scenario == "throw") {
            ints in("in"), out("out");
            for (int f = 0; f < 2; f++) in.write(f);
            ikr::dataflow::set_frames(2);
            two_stage_region(scenario == "spin" ? &spin : &throws, in, out);
        } else {
            std::printf("unknown scenario '%s'\n", scenario.c_str());
            return 2;
        }
    } catch (const std::exception &error) {
        std::printf("%s\n", error.what());
        return 1;
    }
    std::printf("ok\n");
    return 0;
}
