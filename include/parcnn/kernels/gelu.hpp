// parcnn/kernels/gelu.hpp — GELU over a span, in its two forms, and the reference of each.
//
//   exact (erf):  gelu(x) = x · Φ(x) = ½ x (1 + erf(x / √2))
//   tanh:         gelu(x) ≈ ½ x (1 + tanh(u)),  u = √(2/π) (x + 0.044715 x³)
//
// The tanh form is computed as x / (1 + exp(−2u)), the same function (½(1 + tanh u) is the logistic
// function of 2u): one exp instead of a tanh, and no cancellation in 1 + tanh(u) for negative x.
// Both forms run on the kernels' vector exp and erf (kernels/vec_math.hpp).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

template <class T>
inline constexpr T gelu_sqrt_2_over_pi = T(0.797884560802865355879892119868763737L);
template <class T>
inline constexpr T gelu_coef_a = T(0.044715L);
template <class T>
inline constexpr T gelu_inv_sqrt_2 = T(0.707106781186547524400844362104849039L);

namespace detail {
// r, but x itself where x is NaN. A NaN that meets another NaN in an operation keeps the payload and
// sign of the first operand, and which comes first is the compiler's choice, which can differ where
// the same code is inlined in two places: without this, a NaN's sign could differ between a layer and
// its post-op.
template <class V>
inline V keep_nan(V x, V r) {
  return x != x ? x : r;
}

// The GELUs and their backward passes on a vector (function objects: GCC does not give a lambda the
// target of the function it is written in).
template <class T>
struct GeluTanh {
  using V = typename Vec<T>::type;
  V operator()(V v) const {
    const V u = gelu_sqrt_2_over_pi<T> * (v + gelu_coef_a<T> * (v * v * v));
    return keep_nan(v, v / (T(1) + exp<T>(T(-2) * u)));
  }
};
template <class T>
struct GeluErf {
  using V = typename Vec<T>::type;
  V operator()(V v) const { return keep_nan(v, T(0.5) * v * (T(1) + erf<T>(v * gelu_inv_sqrt_2<T>))); }
};
//   tanh form: with s = 1 / (1 + exp(−2u)),  gelu'(x) = s + x · 2 s (1 − s) · √(2/π) (1 + 3 · 0.044715 x²)
//   exact:     gelu'(x) = Φ(x) + x φ(x),  φ(x) = exp(−x²/2) / √(2π)
template <class T>
struct GeluTanhBackward {
  using V = typename Vec<T>::type;
  V operator()(V v, V g) const {
    const V u = gelu_sqrt_2_over_pi<T> * (v + gelu_coef_a<T> * (v * v * v));
    const V s = T(1) / (T(1) + exp<T>(T(-2) * u));
    const V du = gelu_sqrt_2_over_pi<T> * (T(1) + T(3) * gelu_coef_a<T> * (v * v));
    return keep_nan(v, g * (s + v * T(2) * s * (T(1) - s) * du));
  }
};
template <class T>
struct GeluErfBackward {
  using V = typename Vec<T>::type;
  V operator()(V v, V g) const {
    const T inv_sqrt_2pi = T(0.398942280401432677939946059934381868L);
    return keep_nan(v, g * (T(0.5) * (T(1) + erf<T>(v * gelu_inv_sqrt_2<T>)) + v * inv_sqrt_2pi * exp<T>(T(-0.5) * (v * v))));
  }
};

}  // namespace detail

template <class T>
void gelu_tanh(const T* x, T* y, std::size_t n) {
  detail::for_each_vector(y, n, detail::GeluTanh<T>{}, x);
}

template <class T>
void gelu_erf(const T* x, T* y, std::size_t n) {
  detail::for_each_vector(y, n, detail::GeluErf<T>{}, x);
}

template <class T>
void gelu(GeluApproximation approximation, const T* x, T* y, std::size_t n) {
  approximation == GeluApproximation::tanh ? gelu_tanh(x, y, n) : gelu_erf(x, y, n);
}

// dx = dy · gelu'(x).
template <class T>
void gelu_backward(GeluApproximation approximation, const T* x, const T* dy, T* dx, std::size_t n) {
  if (approximation == GeluApproximation::tanh)
    detail::for_each_vector(dx, n, detail::GeluTanhBackward<T>{}, x, dy);
  else
    detail::for_each_vector(dx, n, detail::GeluErfBackward<T>{}, x, dy);
}

// The oracle: the textbook formulas in long double.
template <class T>
T gelu_reference(GeluApproximation approximation, T x) {
  const long double v = x;
  if (approximation == GeluApproximation::tanh)
    return T(0.5L * v * (1.0L + std::tanh(0.797884560802865355879892119868763737L * (v + 0.044715L * v * v * v))));
  return T(0.5L * v * (1.0L + std::erf(v / std::sqrt(2.0L))));
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
