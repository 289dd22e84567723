// parcnn/train/loss.hpp — classification losses, averaged over the batch, with their gradients.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/core/tensor_view.hpp"
#include "parcnn/kernels/log_softmax.hpp"
#include "parcnn/kernels/softmax.hpp"

namespace parcnn {

namespace detail {
template <class T>
void check_targets(const char* loss, TensorView<const T> scores, const std::vector<std::size_t>& targets,
                   TensorView<T> grad) {
  if (scores.rank() != 2 || scores.empty())
    throw ShapeError(std::string(loss) + ": expected scores [N, C], got " + scores.shape().str());
  if (targets.size() != scores.dim(0))
    throw ShapeError(std::string(loss) + ": " + std::to_string(targets.size()) + " targets for scores " +
                     scores.shape().str());
  for (std::size_t n = 0; n < targets.size(); ++n)
    if (targets[n] >= scores.dim(1))
      throw ShapeError(std::string(loss) + ": target " + std::to_string(targets[n]) + " of image " + std::to_string(n) +
                       " is not a class of " + scores.shape().str());
  if (!grad.empty() && grad.shape() != scores.shape())
    throw ShapeError(std::string(loss) + ": gradient must have shape " + scores.shape().str() + ", got " +
                     grad.shape().str());
}
}  // namespace detail

// nll_loss's gradient alone, dL/dlog_probs [N, C]: −1/batch at each image's target, 0 elsewhere, for
// N rows of a batch of `batch` images (the whole batch: batch = N). It does not depend on the
// log-probabilities, so a trainer can write it before the forward pass. The targets must be checked
// (nll_loss does).
template <class T>
void nll_loss_grad(const std::vector<std::size_t>& targets, TensorView<T> grad, std::size_t batch) {
  const std::size_t N = grad.dim(0), C = grad.dim(1);
  std::fill(grad.begin(), grad.end(), T(0));
  for (std::size_t n = 0; n < N; ++n) grad.data()[n * C + targets[n]] = T(-1.0 / double(batch));
}
template <class T>
void nll_loss_grad(const std::vector<std::size_t>& targets, TensorView<T> grad) {
  nll_loss_grad(targets, grad, grad.dim(0));
}

// Negative log-likelihood of log-probabilities [N, C]: −(1/N) Σ_n log_probs[n, target_n]. Writes
// dL/dlog_probs into `grad` unless it is empty. The sum runs in image order, in double.
template <class T>
double nll_loss(TensorView<const T> log_probs, const std::vector<std::size_t>& targets, TensorView<T> grad = {}) {
  detail::check_targets("nll_loss", log_probs, targets, grad);
  const std::size_t N = log_probs.dim(0);
  double sum = 0;
  for (std::size_t n = 0; n < N; ++n) sum -= double(log_probs(n, targets[n]));
  if (!grad.empty()) nll_loss_grad(targets, grad);
  return sum / double(N);
}

// cross_entropy_loss's gradient for some rows: `logits` [n, C] are rows of a batch of `batch` images,
// `targets` their n classes (checked); writes (softmax(logits) − one_hot) / batch into grad [n, C]. Each
// row on its own: a trainer can compute it chunk by chunk with the same bits.
template <class T>
void cross_entropy_grad(TensorView<const T> logits, const std::size_t* targets, std::size_t batch, TensorView<T> grad) {
  const std::size_t N = logits.dim(0), C = logits.dim(1);
  kernels::softmax_rows(logits.data(), C, 0, N, grad.data());
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t c = 0; c < C; ++c) {
      T& g = grad.data()[n * C + c];
      g = T((double(g) - (c == targets[n] ? 1.0 : 0.0)) / double(batch));
    }
}

// Cross-entropy of raw scores (logits) [N, C]: nll_loss(log_softmax(logits)). Writes dL/dlogits =
// (softmax − one_hot) / N into `grad` unless it is empty.
template <class T>
double cross_entropy_loss(TensorView<const T> logits, const std::vector<std::size_t>& targets, TensorView<T> grad = {}) {
  detail::check_targets("cross_entropy_loss", logits, targets, grad);
  const std::size_t N = logits.dim(0), C = logits.dim(1);
  std::vector<T> log_probs(N * C);
  kernels::log_softmax_rows(logits.data(), C, 0, N, log_probs.data());
  double sum = 0;
  for (std::size_t n = 0; n < N; ++n) sum -= double(log_probs[n * C + targets[n]]);
  if (!grad.empty()) cross_entropy_grad(logits, targets.data(), N, grad);
  return sum / double(N);
}

// The losses a Trainer takes: NLL of a model's log-probabilities (a model ending in LogSoftmax), or
// cross-entropy of its raw scores (a model ending in neither LogSoftmax nor Softmax).
enum class Loss { nll, cross_entropy };

inline const char* loss_name(Loss loss) { return loss == Loss::nll ? "nll" : "cross_entropy"; }

}  // namespace parcnn
