// parcnn/kernels/gelu.hpp — GELU over a span, in its two forms, and the reference of each.
//
//   exact (erf):  gelu(x) = x · Φ(x) = ½ x (1 + erf(x / √2))
//   tanh:         gelu(x) ≈ ½ x (1 + tanh(u)),  u = √(2/π) (x + 0.044715 x³)
//
// The tanh form is computed as x / (1 + exp(−2u)), the same function (½(1 + tanh u) is the logistic
// function of 2u): one exp instead of a tanh, and no cancellation in 1 + tanh(u) for negative x.
// Both forms run on Eigen's vectorised exp and erf (a couple of ulp from the correctly rounded value).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>

namespace parcnn::kernels {

enum class GeluApproximation { none, tanh };  // PyTorch's approximate='none' | 'tanh'

template <class T>
inline constexpr T gelu_sqrt_2_over_pi = T(0.797884560802865355879892119868763737L);
template <class T>
inline constexpr T gelu_coef_a = T(0.044715L);
template <class T>
inline constexpr T gelu_inv_sqrt_2 = T(0.707106781186547524400844362104849039L);

namespace detail {
// Elements per chunk: a whole number of SIMD registers for float and double on every x86 level.
inline constexpr std::size_t gelu_chunk = 16;

// Applies `f(in, out)` (Eigen arrays of gelu_chunk elements) to x[0, n) → y[0, n). Eigen vectorises
// exp and erf, but would evaluate a span's ragged end with scalar std::exp; here the end goes
// through the same packet code in a padded chunk, so an element's result never depends on where a
// strategy's block boundaries fall.
template <class T, class F>
void for_each_chunk(const T* x, T* y, std::size_t n, F&& f) {
  using Chunk = Eigen::Array<T, gelu_chunk, 1>;
  std::size_t i = 0;
  for (; i + gelu_chunk <= n; i += gelu_chunk) {
    Eigen::Map<Chunk> out(y + i);
    f(Eigen::Map<const Chunk>(x + i), out);
  }
  if (i < n) {
    Chunk in = Chunk::Zero(), out;
    std::copy(x + i, x + n, in.data());
    f(in, out);
    std::copy(out.data(), out.data() + (n - i), y + i);
  }
}
}  // namespace detail

template <class T>
void gelu_tanh(const T* x, T* y, std::size_t n) {
  detail::for_each_chunk(x, y, n, [](const auto& v, auto& out) {
    const auto u = gelu_sqrt_2_over_pi<T> * (v + gelu_coef_a<T> * v.cube());
    out = v / (T(1) + (T(-2) * u).exp());
  });
}

template <class T>
void gelu_erf(const T* x, T* y, std::size_t n) {
  detail::for_each_chunk(x, y, n, [](const auto& v, auto& out) {
    out = T(0.5) * v * (T(1) + (v * gelu_inv_sqrt_2<T>).erf());
  });
}

template <class T>
void gelu(GeluApproximation approximation, const T* x, T* y, std::size_t n) {
  approximation == GeluApproximation::tanh ? gelu_tanh(x, y, n) : gelu_erf(x, y, n);
}

// The oracle: the textbook formulas in long double.
template <class T>
T gelu_reference(GeluApproximation approximation, T x) {
  const long double v = x;
  if (approximation == GeluApproximation::tanh)
    return T(0.5L * v * (1.0L + std::tanh(0.797884560802865355879892119868763737L * (v + 0.044715L * v * v * v))));
  return T(0.5L * v * (1.0L + std::erf(v / std::sqrt(2.0L))));
}

}  // namespace parcnn::kernels
