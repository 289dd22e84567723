// parcnn/train/trainer.hpp — one training step: forward, loss, backward in gradient chunks, reduction,
// optimizer update; and evaluation.
//
//   auto model = models::letter_cnn<float>(10);
//   Parameters<float> params(model);
//   Adam<float> adam(params.all(), {1e-3});
//   Trainer<float> trainer(model, params, adam);
//   StepStats s = trainer.step(images, labels);   // images [N, 1, 28, 28], labels N class indices
//
// Gradients accumulate in chunks of `chunk_images` images (GradientChunks). When the chunks fill the
// workers, each chunk runs its whole forward and backward pass on one worker, layer after layer over its
// own images, and its activations stay in that core's cache (the letter CNN at batch 64: conv1's output
// is 5.5 MB for the batch, 1.4 MB for a chunk of 16); otherwise the forward pass runs over the whole batch
// under the chosen strategy, then the backward pass in chunks. Every value is independent of the thread
// count, the strategy and the order of the passes, so the trained weights are the same bits with 1 or N
// threads, by chunks or by layers. All buffers are planned at the first step of a batch size and reused.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>


#include "parcnn/core/gradient_chunks.hpp"
#include "parcnn/core/predictions.hpp"
#include "parcnn/core/workspace.hpp"
#include "parcnn/layers/log_softmax.hpp"
#include "parcnn/layers/sequential.hpp"
#include "parcnn/layers/softmax.hpp"
#include "parcnn/parallel/run.hpp"
#include "parcnn/parallel/strategy.hpp"
#include "parcnn/parallel/executor.hpp"
#include "parcnn/train/loss.hpp"
#include "parcnn/train/gradient_reduction.hpp"
#include "parcnn/train/optimizer.hpp"
#include "parcnn/train/parameters.hpp"

namespace parcnn {

struct TrainerOptions {
  Strategy strategy = strategy::Auto{};
  // Images per gradient chunk: more chunks, more parallelism, but more gradient buffers to clear and sum
  // every step (the letter CNN's 297k parameters × 8 chunks at batch 64 read 9.5 MB in the reduction).
  std::size_t chunk_images = 16;
  // Each chunk forward and back on one worker when there are at least as many chunks as workers (see
  // above) and no layer couples the images of a batch (BatchNorm2d in training: Layer::couples_images);
  // off, always the whole batch layer by layer under `strategy`. Same bits either way.
  bool by_chunks = true;
  // The loss: NLL of log-probabilities (the model ends in LogSoftmax) or cross-entropy of raw scores
  // (the model ends in neither LogSoftmax nor Softmax). The Trainer refuses a model that does not fit.
  Loss loss = Loss::nll;
};

struct StepStats {
  double loss = 0;          // mean over the batch
  std::size_t correct = 0;  // images whose highest score is their label
  std::size_t images = 0;
};

// The model's output must fit options.loss (see TrainerOptions).
template <class T>
class Trainer {
 public:
  Trainer(Sequential<T>& model, Parameters<T>& params, Optimizer<T>& optimizer, TrainerOptions options = {})
      : model_(model),
        params_(params),
        optimizer_(optimizer),
        options_(options),
        shapes_(model.parameter_shapes()) {
    if (options_.chunk_images == 0) throw ConfigError("Trainer: chunk_images must be at least 1");
    if (!params.belong_to(model))
      throw ConfigError("Trainer: the Parameters given belong to another model object (" +
                        std::to_string(params.size()) + " tensors; the model has " + std::to_string(shapes_.size()) +
                        "): pass Parameters(model) of the model being trained");
    const Layer<T>* last = model.size() ? &model[model.size() - 1] : nullptr;
    const bool log_probs = dynamic_cast<const LogSoftmax<T>*>(last) != nullptr;
    const bool probs = dynamic_cast<const Softmax<T>*>(last) != nullptr;
    const std::string last_name = last ? last->name() : std::string("none (the model is empty)");
    if (options_.loss == Loss::nll && !log_probs)
      throw ConfigError("Trainer: the NLL loss needs a model ending in LogSoftmax (log-probabilities); its last layer is " +
                        last_name + ". For raw scores, pass TrainerOptions::loss = Loss::cross_entropy");
    if (options_.loss == Loss::cross_entropy && (!last || log_probs || probs))
      throw ConfigError("Trainer: the cross-entropy loss takes raw scores (logits); the model's last layer is " + last_name +
                        (probs ? ": drop it, or end in LogSoftmax and use Loss::nll"
                               : log_probs ? ": drop it, or use Loss::nll" : std::string()));
  }

  const TrainerOptions& options() const { return options_; }

  StepStats step(TensorView<const T> images, const std::vector<std::size_t>& labels) {
    const StepStats stats = accumulate(images, labels, images.rank() > 0 ? images.dim(0) : 0);
    reduce_and_update(chunks_, params_, optimizer_);
    return stats;
  }

  // A step's forward and backward passes without the reduction and the update: the gradients of
  // `images`, rows of a batch of `batch` images that start at a chunk's first image, into chunks()
  // (their chunk c is the batch's chunk first / chunk_images + c), the loss's gradient scaled by
  // 1 / batch. For a caller that sums the chunks itself (parcnn::mpi::DistributedTrainer); step() is
  // accumulate over the whole batch, then reduce_and_update. The stats are those of `images`. The
  // backward passes tell `observer`, if given, as they finish each stage's gradients (GradientObserver).
  StepStats accumulate(TensorView<const T> images, const std::vector<std::size_t>& labels, std::size_t batch,
                       GradientObserver* observer = nullptr) {
    const std::size_t workers = current_workers(), rows = images.rank() > 0 ? images.dim(0) : 0;
    if (rows > batch)
      throw ConfigError("Trainer::accumulate: " + std::to_string(rows) + " images of a batch of " + std::to_string(batch));
    const bool by_chunks =
        options_.by_chunks && !model_.couples_images() && ceil_div(rows, options_.chunk_images) >= workers;
    chunks_.plan(shapes_, rows, options_.chunk_images, /*zero=*/!by_chunks);  // by chunks: each clears its own
    const GradientSlice<T> all{&chunks_, 0, 0, 0, observer};
    if (by_chunks) return step_by_chunks(images, labels, workers, batch, all);
    const TensorView<const T> scores = model_.forward_for_backward(images, options_.strategy, ws_);
    grad_out_.resize(scores.shape());
    const StepStats stats = score(scores, labels, TensorView<T>());
    if (options_.loss == Loss::nll)
      nll_loss_grad(labels, grad_out_.view(), batch);
    else
      cross_entropy_grad(scores, labels.data(), batch, grad_out_.view());
    model_.backward(images, scores, grad_out_.view(), TensorView<T>(), all, ws_);
    return stats;
  }

  // The gradient chunks the last step or accumulate left.
  const GradientChunks<T>& chunks() const { return chunks_; }

  // Loss and accuracy without training.
  StepStats evaluate(TensorView<const T> images, const std::vector<std::size_t>& labels) {
    return score(model_.forward(images, options_.strategy, ws_), labels, TensorView<T>());
  }

 private:
  // Chunks over the workers; each chunk forward and back on one worker alone, in a one-thread arena (so
  // that nothing inside forks or gathers a team) with a workspace of its own block's.
  StepStats step_by_chunks(TensorView<const T> images, const std::vector<std::size_t>& labels, std::size_t workers,
                           std::size_t batch, const GradientSlice<T>& all) {
    log_probs_.resize(model_.output_shape(images.shape()));
    grad_out_.resize(log_probs_.shape());
    detail::check_targets("Trainer::step", TensorView<const T>(log_probs_.view()), labels, grad_out_.view());
    const bool nll = options_.loss == Loss::nll;
    if (nll) nll_loss_grad(labels, grad_out_.view(), batch);  // depends on the labels alone: written before any chunk
    if (solo_.size() < workers) {
      chunk_ws_.resize(workers);
      while (solo_.size() < workers) solo_.push_back(std::make_unique<Executor>(1));
    }
    const std::size_t classes = log_probs_.dim(1);
    // One block per worker, taking chunks in turn (block b: chunks b, b + workers, ...), each with the
    // workspace and arena of its block index: every step uses every one, so they are all sized after
    // the first and no later step allocates, whichever thread runs which block.
    const std::size_t C = chunks_.chunks();
    run_blocks(IndexSpace{workers}, Cut{}, [&](const Block& blk, std::size_t) {
      const std::size_t b = blk.n.begin;
      solo_[b]->run([&] {
        for (std::size_t c = b; c < C; c += workers) {
          chunks_.zero_chunk(c);
          const Range r = chunks_.images(c);
          const TensorView<const T> x = images.batch(r.begin, r.end);
          const TensorView<const T> y = model_.forward_for_backward(x, strategy::Serial{}, chunk_ws_[b]);
          std::copy(y.begin(), y.end(), log_probs_.data() + r.begin * classes);
          const TensorView<T> g = grad_out_.view().batch(r.begin, r.end);
          if (!nll) cross_entropy_grad(y, labels.data() + r.begin, batch, g);
          model_.backward(x, y, g, TensorView<T>(), all.only(c), chunk_ws_[b]);
        }
      });
    });
    return score(log_probs_.view(), labels, TensorView<T>());
  }

  // The loss of the model's output `scores` (and its gradient into `grad` unless empty) and accuracy.
  StepStats score(TensorView<const T> scores, const std::vector<std::size_t>& labels, TensorView<T> grad) const {
    StepStats s;
    s.loss = options_.loss == Loss::nll ? nll_loss(scores, labels, grad) : cross_entropy_loss(scores, labels, grad);
    s.images = labels.size();
    for (std::size_t n = 0; n < labels.size(); ++n) s.correct += argmax_row(scores, n) == labels[n];
    return s;
  }

  Sequential<T>& model_;
  Parameters<T>& params_;
  Optimizer<T>& optimizer_;
  TrainerOptions options_;
  std::vector<Shape> shapes_;          // the model's parameter shapes, fixed for its life
  Workspace<T> ws_;
  GradientChunks<T> chunks_;
  Tensor<T> grad_out_;
  Tensor<T> log_probs_;                                 // by chunks: the whole batch's model output (scores)
  std::vector<Workspace<T>> chunk_ws_;                  // by chunks: one per block of chunks (per worker)
  std::vector<std::unique_ptr<Executor>> solo_;  // by chunks: a one-thread arena per block
};

}  // namespace parcnn
