// parcnn/train/trainer.hpp — one training step: forward, loss, backward in gradient chunks, reduction,
// optimizer update; and evaluation.
//
//   auto model = models::letter_cnn<float>(10);
//   Parameters<float> params(model);
//   Adam<float> adam(params.all(), {1e-3});
//   Trainer<float> trainer(model, params, adam);
//   StepStats s = trainer.step(images, labels);   // images [N, 1, 28, 28], labels N class indices
//
// The forward pass runs under the chosen strategy, the backward pass in chunks of `chunk_images`
// images; every value is independent of the thread count and the strategy, so the trained weights are
// the same bits with 1 or N threads and under every strategy. All buffers are planned at the first step
// of a batch size and reused.
#pragma once

#include <cstddef>
#include <vector>

#include "parcnn/core/gradient_chunks.hpp"
#include "parcnn/core/workspace.hpp"
#include "parcnn/layers/sequential.hpp"
#include "parcnn/parallel/strategy.hpp"
#include "parcnn/train/loss.hpp"
#include "parcnn/train/optimizer.hpp"
#include "parcnn/train/parameters.hpp"

namespace parcnn {

struct TrainerOptions {
  Strategy strategy = strategy::Auto{};
  std::size_t chunk_images = 8;  // images per gradient chunk: more chunks, more parallelism and memory
};

struct StepStats {
  double loss = 0;          // mean over the batch
  std::size_t correct = 0;  // images whose highest score is their label
  std::size_t images = 0;
};

// The index of the highest score in row n of [N, C] (the first on ties).
template <class T>
std::size_t argmax_row(TensorView<const T> scores, std::size_t n) {
  std::size_t best = 0;
  for (std::size_t c = 1; c < scores.dim(1); ++c)
    if (scores(n, c) > scores(n, best)) best = c;
  return best;
}

// argmax_row for every row: the predicted class of each image.
template <class T>
std::vector<std::size_t> predictions(TensorView<const T> scores) {
  std::vector<std::size_t> out(scores.dim(0));
  for (std::size_t n = 0; n < scores.dim(0); ++n) out[n] = argmax_row(scores, n);
  return out;
}

// The model must end in LogSoftmax: the loss is the negative log-likelihood of its output.
template <class T>
class Trainer {
 public:
  Trainer(Sequential<T>& model, Parameters<T>& params, Optimizer<T>& optimizer, TrainerOptions options = {})
      : model_(model),
        params_(params),
        optimizer_(optimizer),
        options_(options),
        shapes_(model.parameter_shapes()),
        grads_(params.grads()) {
    if (options_.chunk_images == 0) throw ConfigError("Trainer: chunk_images must be at least 1");
    if (shapes_.size() != grads_.size())
      throw ConfigError("Trainer: the Parameters given belong to another model (" + std::to_string(grads_.size()) +
                        " parameters for a model of " + std::to_string(shapes_.size()) + ")");
  }

  const TrainerOptions& options() const { return options_; }

  StepStats step(TensorView<const T> images, const std::vector<std::size_t>& labels) {
    const TensorView<const T> log_probs = model_.forward_for_backward(images, options_.strategy, ws_);
    Tensor<T>& grad = grad_out_;
    grad.resize(log_probs.shape());
    StepStats stats = score(log_probs, labels, grad.view());
    chunks_.plan(shapes_, images.dim(0), options_.chunk_images);
    model_.backward(images, log_probs, grad.view(), TensorView<T>(), GradientSlice<T>{&chunks_, 0}, ws_);
    optimizer_.zero_grad();
    chunks_.reduce(grads_);
    optimizer_.step();
    return stats;
  }

  // Loss and accuracy without training.
  StepStats evaluate(TensorView<const T> images, const std::vector<std::size_t>& labels) {
    return score(model_.forward(images, options_.strategy, ws_), labels, TensorView<T>());
  }

 private:
  static StepStats score(TensorView<const T> log_probs, const std::vector<std::size_t>& labels, TensorView<T> grad) {
    StepStats s;
    s.loss = nll_loss(log_probs, labels, grad);
    s.images = labels.size();
    for (std::size_t n = 0; n < labels.size(); ++n) s.correct += argmax_row(log_probs, n) == labels[n];
    return s;
  }

  Sequential<T>& model_;
  Parameters<T>& params_;
  Optimizer<T>& optimizer_;
  TrainerOptions options_;
  std::vector<Shape> shapes_;          // the model's parameter shapes, fixed for its life
  std::vector<TensorView<T>> grads_;   // views of params' gradients, which never move
  Workspace<T> ws_;
  GradientChunks<T> chunks_;
  Tensor<T> grad_out_;
};

}  // namespace parcnn
