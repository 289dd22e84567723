// parcnn/kernels/linear.hpp — y = x Wᵀ + b for a block of rows and output features, and its
// reference.
//
// The product runs as Y[rows, features] = X[rows, :] · Wᵀ[:, features] with Wᵀ laid out once per call
// (kernels/transpose.hpp), so a block of images or of features gives the same bits as the whole.
#pragma once

#include <cstddef>
#include <type_traits>

#include "parcnn/kernels/gemm.hpp"
#include "parcnn/parallel/index_space.hpp"

namespace parcnn::kernels {

// Rows `rows` × output features `features` of y [N, out] from x [N, in], weight_t = Wᵀ [in, out] and bias
// [out] (or null). scratch: gemm_scratch<T>(rows.size(), in) elements.
template <class T>
void linear_forward(const T* x, const T* weight_t, const T* bias, std::size_t in, std::size_t out, Range rows,
                    Range features, T* scratch, T* y) {
  if (rows.size() == 0 || features.size() == 0) return;
  T* block = y + rows.begin * out + features.begin;
  gemm(rows.size(), features.size(), in, x + rows.begin * in, in, weight_t + features.begin, out, block, out, false,
       scratch);
  if (bias)
    for (std::size_t n = 0; n < rows.size(); ++n)
      for (std::size_t o = 0; o < features.size(); ++o) block[n * out + o] += bias[features.begin + o];
}

// Backward of rows `rows` (one gradient chunk): adds Σ_n dy[n]ᵀ x[n] into dweight [out, in] and Σ_n dy[n]
// into dbias (if not null), images in order; writes dx[rows] = dy[rows] · W (if dx is not null).
// scratch: gemm_scratch<T>(out, rows.size()) elements (enough for both products).
template <class T>
void linear_backward(const T* x, const T* weight, const T* dy, std::size_t in, std::size_t out, Range rows, T* dweight,
                     T* dbias, T* dx, T* scratch) {
  const std::size_t n = rows.size();
  if (n == 0) return;
  const T* g = dy + rows.begin * out;
  gemm_strided(out, in, n, g, std::size_t{1}, out, x + rows.begin * in, in, dweight, in, /*accumulate=*/true, scratch);
  if (dbias)
    for (std::size_t o = 0; o < out; ++o) {
      T sum = dbias[o];
      for (std::size_t r = 0; r < n; ++r) sum += g[r * out + o];
      dbias[o] = sum;
    }
  if (dx) gemm(n, in, out, g, out, weight, in, dx + rows.begin * in, in, false, scratch);
}

// The oracle: a whole batch [batch, in] → [batch, out] with a wider accumulator.
template <class T>
void linear_forward_reference(const T* x, const T* weight, const T* bias, std::size_t batch, std::size_t in,
                              std::size_t out, T* y) {
  using Acc = std::conditional_t<std::is_same_v<T, float>, double, long double>;
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t o = 0; o < out; ++o) {
      Acc sum = 0;
      for (std::size_t i = 0; i < in; ++i) sum += Acc(weight[o * in + i]) * Acc(x[n * in + i]);
      y[n * out + o] = T(sum + (bias ? Acc(bias[o]) : Acc(0)));
    }
}

}  // namespace parcnn::kernels
