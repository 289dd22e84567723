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
#include <type_traits>

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
// Elements per chunk: a whole number of SIMD registers for float and double on every x86 level. Long
// spans go in chunks of four times that: one chunk's exp is a chain of dependent steps, and four
// independent ones in flight keep the vector units busy (GELU at batch 64 on one thread, 346k values:
// 111 µs in chunks of 16, 78 µs in chunks of 64).
inline constexpr std::size_t gelu_chunk = 16;
inline constexpr std::size_t gelu_wide_chunk = 4 * gelu_chunk;

// Applies f(in_chunks..., out_chunk) (Eigen arrays of a fixed number of elements) over [0, n): the
// inputs are read from `inputs...`, the result written to y. Eigen vectorises exp and erf, but would
// evaluate a span's ragged end with scalar std::exp; here every element goes through the same packet
// code — in wide chunks, then chunks, then one zero-padded chunk — so an element's result never depends
// on where a strategy's block boundaries fall.
template <std::size_t Size, class T, class F, class... In>
std::size_t for_each_whole_chunk(T* y, std::size_t begin, std::size_t n, F& f, const In*... inputs) {
  using Chunk = Eigen::Array<T, int(Size), 1>;
  std::size_t i = begin;
  for (; i + Size <= n; i += Size) {
    Eigen::Map<Chunk> out(y + i);
    f(Eigen::Map<const Chunk>(inputs + i)..., out);
  }
  return i;
}

template <class T, class F, class... In>
void for_each_chunk(T* y, std::size_t n, F&& f, const In*... inputs) {
  static_assert((std::is_same_v<In, T> && ...), "for_each_chunk: inputs and output share one scalar type");
  std::size_t i = for_each_whole_chunk<gelu_wide_chunk>(y, 0, n, f, inputs...);
  i = for_each_whole_chunk<gelu_chunk>(y, i, n, f, inputs...);
  if (i < n) {
    using Chunk = Eigen::Array<T, int(gelu_chunk), 1>;
    auto padded = [&](const T* p) {
      Chunk c = Chunk::Zero();
      std::copy(p + i, p + n, c.data());
      return c;
    };
    Chunk out;
    f(padded(inputs)..., out);
    std::copy(out.data(), out.data() + (n - i), y + i);
  }
}
}  // namespace detail

template <class T>
void gelu_tanh(const T* x, T* y, std::size_t n) {
  detail::for_each_chunk(y, n, [](const auto& v, auto& out) {
    const auto u = gelu_sqrt_2_over_pi<T> * (v + gelu_coef_a<T> * v.cube());
    out = v / (T(1) + (T(-2) * u).exp());
  }, x);
}

template <class T>
void gelu_erf(const T* x, T* y, std::size_t n) {
  detail::for_each_chunk(y, n, [](const auto& v, auto& out) {
    out = T(0.5) * v * (T(1) + (v * gelu_inv_sqrt_2<T>).erf());
  }, x);
}

template <class T>
void gelu(GeluApproximation approximation, const T* x, T* y, std::size_t n) {
  approximation == GeluApproximation::tanh ? gelu_tanh(x, y, n) : gelu_erf(x, y, n);
}

// dx = dy · gelu'(x).
//   tanh form: with s = 1 / (1 + exp(−2u)),  gelu'(x) = s + x · 2 s (1 − s) · √(2/π) (1 + 3 · 0.044715 x²)
//   exact:     gelu'(x) = Φ(x) + x φ(x),  φ(x) = exp(−x²/2) / √(2π)
template <class T>
void gelu_backward(GeluApproximation approximation, const T* x, const T* dy, T* dx, std::size_t n) {
  if (approximation == GeluApproximation::tanh) {
    detail::for_each_chunk(dx, n, [](const auto& v, const auto& g, auto& out) {
      const auto u = gelu_sqrt_2_over_pi<T> * (v + gelu_coef_a<T> * v.cube());
      const auto s = (T(1) + (T(-2) * u).exp()).inverse();
      const auto du = gelu_sqrt_2_over_pi<T> * (T(1) + T(3) * gelu_coef_a<T> * v.square());
      out = g * (s + v * T(2) * s * (T(1) - s) * du);
    }, x, dy);
  } else {
    detail::for_each_chunk(dx, n, [](const auto& v, const auto& g, auto& out) {
      const T inv_sqrt_2pi = T(0.398942280401432677939946059934381868L);
      out = g * (T(0.5) * (T(1) + (v * gelu_inv_sqrt_2<T>).erf()) + v * inv_sqrt_2pi * (T(-0.5) * v.square()).exp());
    }, x, dy);
  }
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
