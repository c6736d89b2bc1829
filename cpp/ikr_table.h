// ikr-hls: constant tables (weights, biases, activation tables) on the host.
//
// Synthesis reads every table as `static const T name[N] = {...}`: a ROM, or constants once
// partitioned. Written that way for the host, g++ compiles each entry of a fixed-point type as
// a constructor call in one static initializer, which grows worse than linearly (a few
// thousand ap_fixed entries take a minute). The host build therefore stores the same literals
// as doubles (plain data) and converts them to T by one loop when the module loads: the same
// T(double) conversion, so the same values, at a compile cost that does not grow with N.
#ifndef IKR_TABLE_H_
#define IKR_TABLE_H_

#ifndef __SYNTHESIS__

namespace ikr {

template <typename T, int N>
const T (&host_table(T (&table)[N], const double (&values)[N]))[N] {
    for (int i = 0; i < N; i++) table[i] = T(values[i]);
    return table;
}

// C identical copies of one table (each a ROM of its own in hardware).
template <typename T, int C, int N>
const T (&host_table(T (&table)[C][N], const double (&values)[N]))[C][N] {
    for (int c = 0; c < C; c++)
        for (int i = 0; i < N; i++) table[c][i] = T(values[i]);
    return table;
}

}  // namespace ikr

#endif  // __SYNTHESIS__
#endif
