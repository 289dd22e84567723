// parcnn/kernels/gelu.hpp — GELU over a span, in its two forms, and the reference of each.
//
//   exact (erf):  gelu(x) = x · Φ(x) = ½ x (1 + erf(x / √2))
//   tanh:         gelu(x) ≈ ½ x (1 + tanh(u)),  u = √(2/π) (x + 0.044715 x³)
//
// The tanh form is computed as x / (1 + exp(−2u)), the same function (½(1 + tanh u) is the logistic
// function of 2u): one exp instead of a tanh, and no cancellation in 1 + tanh(u) for negative x.
#pragma once

#include <cmath>
#include <cstddef>

namespace parcnn::kernels {

enum class GeluApproximation { none, tanh };  // PyTorch's approximate='none' | 'tanh'

template <class T>
inline constexpr T gelu_sqrt_2_over_pi = T(0.797884560802865355879892119868763737L);
template <class T>
inline constexpr T gelu_coef_a = T(0.044715L);
template <class T>
inline constexpr T gelu_inv_sqrt_2 = T(0.707106781186547524400844362104849039L);

template <class T>
void gelu_tanh(const T* x, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const T v = x[i];
    const T u = gelu_sqrt_2_over_pi<T> * (v + gelu_coef_a<T> * v * v * v);
    y[i] = v / (T(1) + std::exp(T(-2) * u));
  }
}

template <class T>
void gelu_erf(const T* x, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const T v = x[i];
    y[i] = T(0.5) * v * (T(1) + std::erf(v * gelu_inv_sqrt_2<T>));
  }
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
