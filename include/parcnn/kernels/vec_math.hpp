// parcnn/kernels/vec_math.hpp — exp and erf on the kernels' vectors (kernels/vec.hpp), for GELU: every
// lane through the same instructions, so a value's result never depends on where it falls in a block.
// Written on the vector extensions rather than a library's packets so that each instruction set's pass
// runs them at its own width.
//
//   exp:  x = n·ln2 + r, |r| ≤ ln2/2 (ln2 in two parts, so n·ln2_hi is exact); e^r by its Taylor
//         polynomial (degree 7 for float, 13 for double: the next term is below half an ulp); 2^n
//         built in the exponent bits, in two halves so that results near the ends of the range (down
//         to the smallest subnormal, up to the largest finite value) need no special case. x beyond the
//         range gives 0 or +inf; NaN stays NaN.
//   erf (float): x·P(x²) for |x| < 1, 1 − e^(−x²)·Q(1/(1 + |x|)) for 1 ≤ |x| < 4 (P, Q: degree 6 and 7
//         least-squares fits of erf(x)/x and erfc(x)·e^(x²), relative error 1e-9 and 1e-8), ±1 beyond
//         (erfc(4) < half an ulp of 1). About 2e-7 absolute. erf (double): the C library's, lane by lane.
//
// for_each_vector runs such a function over spans (GELU and its backward, vector_exp, vector_erf).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET::detail {

template <class To, class From>
inline To bits_as(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "bits_as: sizes differ");
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}

// The first count < lanes values at p, zero-padded.
template <class T>
inline typename Vec<T>::type load_padded(const T* p, std::size_t count) {
  T lanes[Vec<T>::lanes] = {};
  std::copy(p, p + count, lanes);
  return load(lanes);
}

// Applies f(v…) (vectors of the inputs' values → a vector of results) over [0, n): four vectors a
// step while they last (one exp is a chain of dependent steps; four in flight keep the vector units
// busy), then single vectors, then the ragged end zero-padded in one vector. Every element goes
// through the same vector code, so its result never depends on where a block boundary falls.
template <class T, class F, class... In>
void for_each_vector(T* y, std::size_t n, F&& f, const In*... inputs) {
  static_assert((std::is_same_v<In, T> && ...), "for_each_vector: inputs and output share one scalar type");
  constexpr std::size_t L = Vec<T>::lanes, U = 4;
  std::size_t i = 0;
  for (; i + U * L <= n; i += U * L)
    for (std::size_t u = 0; u < U; ++u) store(y + i + u * L, f(load(inputs + i + u * L)...));
  for (; i + L <= n; i += L) store(y + i, f(load(inputs + i)...));
  if (i < n) {
    T out[L];
    store(out, f(load_padded(inputs + i, n - i)...));
    std::copy(out, out + (n - i), y + i);
  }
}

// The float and double constants of exp.
template <class T>
struct ExpConstants;
template <>
struct ExpConstants<float> {
  using Int = std::int32_t;
  using UInt = std::uint32_t;
  static constexpr int mantissa_bits = 23, bias = 127;
  static constexpr float hi = 88.72283935546875f;    // above: +inf
  static constexpr float lo = -103.97207708f;        // below: 0
  static constexpr float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f, log2e = 1.44269504088896341f;
  static constexpr float round = 12582912.0f;        // 1.5·2^23: adding it rounds to an integer
  static constexpr int degree = 7;
};
template <>
struct ExpConstants<double> {
  using Int = std::int64_t;
  using UInt = std::uint64_t;
  static constexpr int mantissa_bits = 52, bias = 1023;
  static constexpr double hi = 709.782712893383973;
  static constexpr double lo = -745.133219101941108;
  static constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10,
                          log2e = 1.44269504088896338700e+00;
  static constexpr double round = 6755399441055744.0;  // 1.5·2^52
  static constexpr int degree = 13;
};

// 1/k! for k = 0..N, computed once at compile time.
template <class T, int N>
constexpr std::array<T, N + 1> inverse_factorials() {
  std::array<T, N + 1> f{};
  f[0] = T(1);
  for (int k = 1; k <= N; ++k) f[k] = f[k - 1] / T(k);
  return f;
}

template <class T>
inline typename Vec<T>::type exp(typename Vec<T>::type x) {
  using V = typename Vec<T>::type;
  using C = ExpConstants<T>;
  typedef typename C::Int I __attribute__((vector_size(sizeof(V))));
  typedef typename C::UInt U __attribute__((vector_size(sizeof(V))));
  V c = x < C::lo ? V{} + C::lo : x;  // NaN fails every comparison and passes through
  c = c > C::hi ? V{} + C::hi : c;
  const V t = c * C::log2e + C::round;
  const V n = t - C::round;
  V r = c - n * C::ln2_hi;
  r = r - n * C::ln2_lo;
  static constexpr std::array<T, C::degree + 1> inv_factorial = inverse_factorials<T, C::degree>();
  V p = V{} + inv_factorial[C::degree];
  for (int k = C::degree - 1; k >= 0; --k) p = p * r + inv_factorial[k];
  const I ni = bits_as<I>(U(bits_as<U>(t) - bits_as<U>(V{} + C::round)));
  const I n1 = ni >> 1, n2 = ni - n1;
  const V s1 = bits_as<V>(U((U(n1) + typename C::UInt(C::bias)) << C::mantissa_bits));
  const V s2 = bits_as<V>(U((U(n2) + typename C::UInt(C::bias)) << C::mantissa_bits));
  V y = p * s1 * s2;
  y = x > C::hi ? V{} + std::numeric_limits<T>::infinity() : y;
  y = x < C::lo ? V{} : y;
  return y;
}

template <class T>
inline typename Vec<T>::type erf(typename Vec<T>::type x) {
  using V = typename Vec<T>::type;
  if constexpr (std::is_same_v<T, double>) {
    for (int i = 0; i < Vec<T>::lanes; ++i) x[i] = std::erf(x[i]);
    return x;
  } else {
    static_assert(std::is_same_v<T, float>, "erf: float or double");
    typedef std::uint32_t U __attribute__((vector_size(sizeof(V))));
    const U sign = bits_as<U>(x) & 0x80000000u;
    const V a = bits_as<V>(U(bits_as<U>(x) ^ sign));  // |x|
    // |x| < 1: x·P(x²).
    constexpr float P[7] = {1.128379167e+00f, -3.761262884e-01f, 1.128361243e-01f, -2.685480853e-02f,
                            5.190053574e-03f,  -8.024354101e-04f, 7.898210127e-05f};
    const V s = a * a;
    V p = V{} + P[6];
    for (int k = 5; k >= 0; --k) p = p * s + P[k];
    const V small = a * p;
    // 1 ≤ |x| < 4: 1 − e^(−x²)·Q(t), t = 1/(1 + |x|).
    constexpr float Q[8] = {-1.041816842e-04f, 5.666684589e-01f,  5.400558447e-01f, 4.008377850e-01f,
                            -5.491768389e-01f, -7.637766251e-01f, 1.446631074e+00f, -6.626814182e-01f};
    const V t = 1.0f / (a + 1.0f);
    V q = V{} + Q[7];
    for (int k = 6; k >= 0; --k) q = q * t + Q[k];
    const V large = 1.0f - exp<float>(-s) * q;
    V e = a < 1.0f ? small : large;
    e = a >= 4.0f ? V{} + 1.0f : e;
    return bits_as<V>(U(bits_as<U>(e) | sign));
  }
}

// exp and erf as function objects, for for_each_vector.
template <class T>
struct Exp {
  typename Vec<T>::type operator()(typename Vec<T>::type x) const { return exp<T>(x); }
};
template <class T>
struct Erf {
  typename Vec<T>::type operator()(typename Vec<T>::type x) const { return erf<T>(x); }
};

}  // namespace parcnn::kernels::PARCNN_TARGET::detail

namespace parcnn::kernels::PARCNN_TARGET {

// exp and erf over spans (x and y may be the same), by the vector code above: what the tests check.
template <class T>
void vector_exp(const T* x, T* y, std::size_t n) {
  detail::for_each_vector(y, n, detail::Exp<T>{}, x);
}
template <class T>
void vector_erf(const T* x, T* y, std::size_t n) {
  detail::for_each_vector(y, n, detail::Erf<T>{}, x);
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
