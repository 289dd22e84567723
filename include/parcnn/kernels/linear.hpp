// parcnn/kernels/linear.hpp — y = W x + b for one input row, over a range of output features, and
// its reference.
//
// Each image is one matrix-vector product with the whole (or a row block of the) weight, so an
// image's outputs do not depend on how many other images share its task.
#pragma once

#include <cstddef>
#include <type_traits>

#include "parcnn/kernels/gemm.hpp"
#include "parcnn/parallel/index_space.hpp"

namespace parcnn::kernels {

// x: one input row [in]; weight: [out, in] (PyTorch's layout); bias: [out] or null; y: one output row
// [out], of which `features` are written.
template <class T>
void linear_forward(const T* x, const T* weight, const T* bias, std::size_t in, Range features, T* y) {
  if (features.size() == 0) return;
  T* out = y + features.begin;
  gemv(features.size(), in, weight + features.begin * in, in, x, out);
  if (bias)
    for (std::size_t o = features.begin; o < features.end; ++o) y[o] += bias[o];
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
