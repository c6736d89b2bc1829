// ikr-hls host entry points of a project (host_api.cpp), for the Python bridge (bridge.cpp):
// plain functions over double buffers, so that the bridge is the same file for every
// project and compiles once per machine. Host only; Vitis never includes it.
#ifndef IKR_HOST_API_H_
#define IKR_HOST_API_H_

#ifndef __SYNTHESIS__   // host only: Vitis never compiles what follows

#include <vector>

namespace ikr_host {

const char *project();
int input_rank();
const int *input_shape();
int input_size();
int output_rank();
const int *output_shape();
int output_size();

// samples [begin, end) of a batch of doubles through the top function
void run(const double *src, double *dst, long begin, long end);
// false in tracing and counting builds, which record into shared buffers
bool thread_safe();

int layer_count();
const char *layer_name(int layer);
int layer_rank(int layer);
const int *layer_shape(int layer);

bool tracing();                                   // built with -DIKR_TRACE
void trace_clear();
const std::vector<double> &trace(int layer);      // every output of the layer, sample after sample

bool counting();                                  // built with -DIKR_COUNT_OPS
void count_clear();
unsigned long long count(int layer);              // multiplications since count_clear()

}  // namespace ikr_host

#else
#error "ikr_host_api.h is host-only"
#endif  // __SYNTHESIS__
#endif
