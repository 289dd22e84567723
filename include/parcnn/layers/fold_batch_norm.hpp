// parcnn/layers/fold_batch_norm.hpp — an inference copy of a model with each BatchNorm2d that follows a
// Conv2d folded into that convolution, as PyTorch's fuse_conv_bn_eval does.
//
// With the running statistics, BatchNorm2d(conv(x)) = (conv(x) − mean) · s + β, s = γ / √(var + eps), is
// itself a convolution: weight W·s and bias (b − mean)·s + β, per output channel (b = 0 without a bias).
// The folded model runs one pass over each such output less, and the element-wise layers after the
// BatchNorm (a ReLU) become the convolution's post-ops. It is in evaluation mode and gives the model's
// values up to rounding — W·s is rounded once more — not its bits. Residual blocks are folded inside;
// a BatchNorm2d after anything but a Conv2d stays as it is.
#pragma once

#include <cmath>
#include <memory>
#include <string>

#include "parcnn/core/error.hpp"
#include "parcnn/layers/batch_norm2d.hpp"
#include "parcnn/layers/conv2d.hpp"
#include "parcnn/layers/residual.hpp"
#include "parcnn/layers/sequential.hpp"

namespace parcnn {

// `conv` followed by `batch_norm` (its running statistics) as one convolution with a bias.
template <class T>
Conv2d<T> fold_batch_norm(const Conv2d<T>& conv, const BatchNorm2d<T>& batch_norm) {
  const std::size_t out = conv.weight().dim(0);
  if (batch_norm.running_mean().size() != out)
    throw ConfigError("fold_batch_norm: " + batch_norm.name() + " cannot follow " + conv.name() + ": it has " +
                      std::to_string(batch_norm.running_mean().size()) + " channels, the convolution " +
                      std::to_string(out) + " outputs");
  Conv2d<T> folded = conv;
  if (!folded.has_bias()) folded.bias() = Tensor<T>(Shape{out});
  const std::size_t K = folded.weight().size() / out;
  T* w = folded.weight().data();
  T* b = folded.bias().data();
  for (std::size_t c = 0; c < out; ++c) {
    const double s = double(batch_norm.weight().data()[c]) /
                     std::sqrt(double(batch_norm.running_var().data()[c]) + batch_norm.eps());
    for (std::size_t k = 0; k < K; ++k) w[c * K + k] = T(double(w[c * K + k]) * s);
    b[c] = T((double(b[c]) - double(batch_norm.running_mean().data()[c])) * s + double(batch_norm.bias().data()[c]));
  }
  return folded;
}

// A copy of `model`, in evaluation mode, with each Conv2d → BatchNorm2d pair one convolution (under the
// convolution's name; the BatchNorm's parameters and buffers are gone), inside Residual blocks too.
template <class T>
Sequential<T> fold_batch_norm(const Sequential<T>& model) {
  Sequential<T> folded;
  folded.fuse_post_ops(model.fuses_post_ops());
  for (std::size_t i = 0; i < model.size(); ++i) {
    const Layer<T>& layer = model[i];
    const auto* conv = dynamic_cast<const Conv2d<T>*>(&layer);
    const auto* next = i + 1 < model.size() ? dynamic_cast<const BatchNorm2d<T>*>(&model[i + 1]) : nullptr;
    if (conv && next) {
      folded.add(model.layer_name(i), fold_batch_norm(*conv, *next));
      ++i;
    } else if (const auto* block = dynamic_cast<const Residual<T>*>(&layer)) {
      folded.add(model.layer_name(i), Residual<T>(fold_batch_norm(block->body()), fold_batch_norm(block->shortcut())));
    } else {
      folded.add(model.layer_name(i), layer.clone());
    }
  }
  folded.use_gemm(model.gemm());
  folded.eval();
  return folded;
}

}  // namespace parcnn
