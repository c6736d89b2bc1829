// ikr-hls counting build (-DIKR_COUNT_OPS, host only): every weight is wrapped in a type
// whose multiplication increments its layer's counter, so the host measures the
// multiplications the generated code really executes. Never part of a Vitis build.
#ifndef IKR_COUNT_H_
#define IKR_COUNT_H_

#ifdef IKR_COUNT_OPS

#ifdef __SYNTHESIS__
#error "IKR_COUNT_OPS is a host-only build option"
#endif

namespace ikr {

const int MAX_COUNTED_LAYERS = 256;

inline unsigned long long *mul_counts() {
    static unsigned long long counts[MAX_COUNTED_LAYERS] = {0};
    return counts;
}

// A weight of type T belonging to layer ID.
template <typename T, int ID>
struct Counted {
    T value;
    Counted() : value() {}
    Counted(double v) : value(T(v)) {}  // NOLINT: implicit, so weight tables read as plain numbers
    template <typename A>
    friend auto operator*(const A &a, const Counted &w) {
        mul_counts()[ID]++;
        return a * w.value;
    }
};

}  // namespace ikr

#endif  // IKR_COUNT_OPS
#endif
