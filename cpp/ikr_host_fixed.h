// ikr-hls host-only integer fixed point (-DIKR_HOST_INT): ap_fixed, ap_ufixed, ap_int and
// ap_uint re-implemented as an int64 code with exact intermediate arithmetic, and the
// rounding and overflow of the ap_types headers on every assignment. It exists for speed:
// the same generated code compiles several times faster and runs tens of times faster
// than through ap_private. Only what ikr-hls's generated code uses is provided; Vitis never
// sees this file (it always compiles the real headers). Bit-identity with the real headers
// and with the numpy reference (ikr_hls/precision.py, emulate.py) is tested.
// ap_int<W> is ap_fixed<W, W>, as in the reference.
#ifndef IKR_HOST_FIXED_H_
#define IKR_HOST_FIXED_H_

#ifndef __SYNTHESIS__   // host only: Vitis never compiles what follows

#include <cmath>
#include <cstdint>
#include <type_traits>

enum ap_q_mode { AP_RND, AP_RND_ZERO, AP_RND_MIN_INF, AP_RND_INF, AP_RND_CONV, AP_TRN, AP_TRN_ZERO };
enum ap_o_mode { AP_SAT, AP_SAT_ZERO, AP_SAT_SYM, AP_WRAP, AP_WRAP_SM };

namespace ikr {
namespace hostfx {

__extension__ typedef __int128 wide_t;   // exact intermediates: products and sums of 62-bit codes

struct fixed_tag {};

// An exact intermediate value v * 2^-F (what ap_fixed's +, -, * return, never rounded).
template <int F>
struct exact : fixed_tag {
    static const int frac = F;
    wide_t v;
    explicit exact(wide_t raw) : v(raw) {}
};

// value = v * 2^-(W - I); v always within the type's range after an assignment.
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O>
struct fx;

// --- rounding and overflow, as an assignment to ap_fixed does them ----------------------------
template <ap_q_mode Q>
inline wide_t round_shift(wide_t v, int shift) {        // v * 2^-shift rounded to an integer, shift > 0
    const wide_t floor = v >> shift;                    // arithmetic shift: floor
    const wide_t rest = v - (floor << shift);           // 0 <= rest < 2^shift
    const wide_t half = wide_t(1) << (shift - 1);
    bool up;
    switch (Q) {
        case AP_TRN: up = false; break;
        case AP_TRN_ZERO: up = rest != 0 && v < 0; break;
        case AP_RND: up = rest >= half; break;
        case AP_RND_ZERO: up = rest > half || (rest == half && v < 0); break;
        case AP_RND_MIN_INF: up = rest > half; break;
        case AP_RND_INF: up = rest > half || (rest == half && v > 0); break;
        default: up = rest > half || (rest == half && (floor & 1) != 0); break;   // AP_RND_CONV
    }
    return floor + (up ? 1 : 0);
}

template <int W, bool S, ap_o_mode O>
inline int64_t overflow(wide_t v) {
    const wide_t lo = S ? -(wide_t(1) << (W - 1)) : 0;
    const wide_t hi = S ? (wide_t(1) << (W - 1)) - 1 : (wide_t(1) << W) - 1;
    if (O == AP_SAT_SYM && S && v <= lo) return int64_t(-hi);   // the most negative code is never used
    if (v >= lo && v <= hi) return int64_t(v);
    switch (O) {
        case AP_SAT: return int64_t(v < lo ? lo : hi);
        case AP_SAT_ZERO: return 0;
        case AP_SAT_SYM: return int64_t(v < lo ? (S ? -hi : lo) : hi);
        default: {                                       // AP_WRAP: keep the low W bits
            const wide_t mask = (wide_t(1) << W) - 1;
            return int64_t(((v - lo) & mask) + lo);
        }
    }
}

// A code with F_SRC fractional bits assigned to fx<W, I, S, Q, O>.
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O>
inline int64_t assign(wide_t v, int frac_from) {
    const int shift = frac_from - (W - I);
    const wide_t aligned = shift <= 0 ? v * (wide_t(1) << -shift) : round_shift<Q>(v, shift);
    return overflow<W, S, O>(aligned);
}

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O>
inline int64_t from_double(double x) {
    if (std::isnan(x)) return 0;                         // never reached from predict, which refuses NaN
    const double y = std::ldexp(x, W - I);               // exact: a power of two, unless beyond 2^1024
    if (std::isinf(y)) {                                 // a code beyond 2^1024 is a multiple of 2^64:
        if (O == AP_WRAP || O == AP_WRAP_SM) return overflow<W, S, O>(0);   // no low bit set
        return overflow<W, S, O>(y > 0 ? wide_t(1) << 62 : -(wide_t(1) << 62));
    }
    const double floor = std::floor(y);
    const double rest = y - floor;                       // exact, 0 <= rest < 1
    bool up;
    switch (Q) {
        case AP_TRN: up = false; break;
        case AP_TRN_ZERO: up = rest != 0 && y < 0; break;
        case AP_RND: up = rest >= 0.5; break;
        case AP_RND_ZERO: up = rest > 0.5 || (rest == 0.5 && y < 0); break;
        case AP_RND_MIN_INF: up = rest > 0.5; break;
        case AP_RND_INF: up = rest > 0.5 || (rest == 0.5 && y > 0); break;
        default: up = rest > 0.5 || (rest == 0.5 && std::fmod(floor, 2.0) != 0); break;
    }
    double q = floor + (up ? 1.0 : 0.0);
    const double limit = 4611686018427387904.0;          // 2^62: beyond, only the low W bits or a clamp matter
    if (q >= limit || q <= -limit) {                     // fmod is exact; a subtraction of 2^64 is not
        if (O != AP_WRAP && O != AP_WRAP_SM) q = q > 0 ? limit : -limit;
        else q = std::fmod(q, std::ldexp(1.0, W));        // the low W bits, |q| < 2^W (W <= 62)
    }
    return overflow<W, S, O>(wide_t(int64_t(q)));
}

// --- operands: fx, exact and integers ---------------------------------------------------------
template <class T, class = void>
struct operand {
    static const bool is_fixed = false;
    static const bool ok = std::is_integral<T>::value;
    static const int frac = 0;
    static wide_t raw(const T &x) { return wide_t(x); }
};

template <class T>
struct operand<T, typename std::enable_if<std::is_base_of<fixed_tag, T>::value>::type> {
    static const bool is_fixed = true;
    static const bool ok = true;
    static const int frac = T::frac;
    static wide_t raw(const T &x) { return wide_t(x.v); }
};

template <class A, class B>
struct pair {
    static const bool ok = operand<A>::ok && operand<B>::ok && (operand<A>::is_fixed || operand<B>::is_fixed);
    static const int fa = operand<A>::frac, fb = operand<B>::frac;
    static const int frac = fa > fb ? fa : fb;
    static wide_t a(const A &x) { return operand<A>::raw(x) * (wide_t(1) << (frac - fa)); }
    static wide_t b(const B &y) { return operand<B>::raw(y) * (wide_t(1) << (frac - fb)); }
};

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O>
struct fx : fixed_tag {
    static const int frac = W - I;
    int64_t v;

    fx() : v(0) {}
    fx(double x) : v(from_double<W, I, S, Q, O>(x)) {}  // NOLINT: implicit, like ap_fixed
    fx(float x) : v(from_double<W, I, S, Q, O>(x)) {}   // NOLINT
    fx(int x) : v(assign<W, I, S, Q, O>(x, 0)) {}       // NOLINT
    fx(unsigned x) : v(assign<W, I, S, Q, O>(x, 0)) {}  // NOLINT
    fx(long x) : v(assign<W, I, S, Q, O>(x, 0)) {}      // NOLINT
    fx(long long x) : v(assign<W, I, S, Q, O>(x, 0)) {} // NOLINT
    template <int F>
    fx(const exact<F> &x) : v(assign<W, I, S, Q, O>(x.v, F)) {}   // NOLINT
    template <int W2, int I2, bool S2, ap_q_mode Q2, ap_o_mode O2>
    fx(const fx<W2, I2, S2, Q2, O2> &x) : v(assign<W, I, S, Q, O>(x.v, W2 - I2)) {}   // NOLINT

    explicit operator double() const { return std::ldexp(double(v), -frac); }
    double to_double() const { return double(*this); }

    // the bits of the code, as ap_fixed::range(hi, lo) gives them (unsigned)
    fx<W, W, false, AP_TRN, AP_WRAP> range(int hi, int lo) const {
        fx<W, W, false, AP_TRN, AP_WRAP> bits;
        const uint64_t width_mask = hi - lo + 1 >= 64 ? ~uint64_t(0) : ((uint64_t(1) << (hi - lo + 1)) - 1);
        bits.v = int64_t((uint64_t(v) >> lo) & width_mask);
        return bits;
    }
    uint64_t to_uint64() const { return uint64_t(v); }

    template <class T>
    fx &operator+=(const T &x) { return *this = fx(exact<pair<fx, T>::frac>(pair<fx, T>::a(*this) + pair<fx, T>::b(x))); }
    template <class T>
    fx &operator-=(const T &x) { return *this = fx(exact<pair<fx, T>::frac>(pair<fx, T>::a(*this) - pair<fx, T>::b(x))); }
};

// exact arithmetic, as ap_fixed's operators (their result types never round or overflow)
template <class A, class B>
inline typename std::enable_if<pair<A, B>::ok, exact<pair<A, B>::frac> >::type operator+(const A &a, const B &b) {
    return exact<pair<A, B>::frac>(pair<A, B>::a(a) + pair<A, B>::b(b));
}
template <class A, class B>
inline typename std::enable_if<pair<A, B>::ok, exact<pair<A, B>::frac> >::type operator-(const A &a, const B &b) {
    return exact<pair<A, B>::frac>(pair<A, B>::a(a) - pair<A, B>::b(b));
}
template <class A, class B>
inline typename std::enable_if<pair<A, B>::ok, exact<operand<A>::frac + operand<B>::frac> >::type operator*(const A &a, const B &b) {
    return exact<operand<A>::frac + operand<B>::frac>(operand<A>::raw(a) * operand<B>::raw(b));
}
template <class A>
inline typename std::enable_if<operand<A>::is_fixed, exact<operand<A>::frac> >::type operator-(const A &a) {
    return exact<operand<A>::frac>(-operand<A>::raw(a));
}

#define IKR_HOSTFX_COMPARE(OP)                                                                        \
    template <class A, class B>                                                                       \
    inline typename std::enable_if<pair<A, B>::ok, bool>::type operator OP(const A &a, const B &b) { \
        return pair<A, B>::a(a) OP pair<A, B>::b(b);                                                  \
    }
IKR_HOSTFX_COMPARE(<)
IKR_HOSTFX_COMPARE(>)
IKR_HOSTFX_COMPARE(<=)
IKR_HOSTFX_COMPARE(>=)
IKR_HOSTFX_COMPARE(==)
IKR_HOSTFX_COMPARE(!=)
#undef IKR_HOSTFX_COMPARE

}  // namespace hostfx
}  // namespace ikr

// The ap_types names, so that generated code compiles unchanged.
template <int W, int I, ap_q_mode Q = AP_TRN, ap_o_mode O = AP_WRAP, int N = 0>
struct ap_fixed : ikr::hostfx::fx<W, I, true, Q, O> {
    typedef ikr::hostfx::fx<W, I, true, Q, O> base;
    using base::base;
    ap_fixed() : base() {}
    ap_fixed(const base &x) : base(x) {}   // NOLINT
};

template <int W, int I, ap_q_mode Q = AP_TRN, ap_o_mode O = AP_WRAP, int N = 0>
struct ap_ufixed : ikr::hostfx::fx<W, I, false, Q, O> {
    typedef ikr::hostfx::fx<W, I, false, Q, O> base;
    using base::base;
    ap_ufixed() : base() {}
    ap_ufixed(const base &x) : base(x) {}   // NOLINT
};

template <int W>
struct ap_int : ikr::hostfx::fx<W, W, true, AP_TRN, AP_WRAP> {
    typedef ikr::hostfx::fx<W, W, true, AP_TRN, AP_WRAP> base;
    using base::base;
    ap_int() : base() {}
    ap_int(const base &x) : base(x) {}   // NOLINT
};

template <int W>
struct ap_uint : ikr::hostfx::fx<W, W, false, AP_TRN, AP_WRAP> {
    typedef ikr::hostfx::fx<W, W, false, AP_TRN, AP_WRAP> base;
    using base::base;
    ap_uint() : base() {}
    ap_uint(const base &x) : base(x) {}   // NOLINT
};

#else
#error "ikr_host_fixed.h is a host-only replacement of the ap_types headers"
#endif  // __SYNTHESIS__
#endif
