// parcnn/layers/batch_norm2d.hpp — BatchNorm2d: each channel normalised, then scaled and shifted, as
// torch.nn.BatchNorm2d (affine, tracking running statistics).
//
// Input [N, C, H, W] → the same shape. y = (x − mean) / √(var + eps) · weight + bias, where mean and var
// are, in forward and in evaluation mode, the running statistics, and in a training-mode
// forward_for_backward the batch's own (biased variance); that pass also updates the running ones,
// running = (1 − momentum)·running + momentum·batch (the variance unbiased), and counts the batch in
// num_batches_tracked. So a training-mode forward_for_backward couples the images of a batch (a model
// with it trains layer by layer) and changes the layer: call it from one thread at a time, and do not
// change the mode between it and its backward pass.
//
// Parameters "weight" (ones) and "bias" (zeros); buffers "running_mean" (zeros), "running_var" (ones),
// "num_batches_tracked" (0, one value): PyTorch's names, so a state dict moves as it is.
#pragma once

#include <cmath>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/kernels/batch_norm.hpp"
#include "parcnn/kernels/cost.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/parallel/executor.hpp"
#include "parcnn/parallel/run.hpp"

namespace parcnn {

template <class T>
class BatchNorm2d final : public Layer<T> {
 public:
  explicit BatchNorm2d(std::size_t channels, double eps = 1e-5, double momentum = 0.1)
      : channels_(channels), eps_(eps), momentum_(momentum) {
    if (channels_ == 0) throw ConfigError(name() + ": channels must be at least 1");
    if (!(eps_ > 0) || !std::isfinite(eps_)) throw ConfigError(name() + ": eps must be positive and finite");
    if (!(momentum_ >= 0 && momentum_ <= 1)) throw ConfigError(name() + ": momentum must lie in [0, 1]");
    this->make_parameters([&] {
      weight_ = Tensor<T>(Shape{channels_});
      bias_ = Tensor<T>(Shape{channels_});
      running_mean_ = Tensor<T>(Shape{channels_});
      running_var_ = Tensor<T>(Shape{channels_});
      batches_ = Tensor<T>(Shape{1});
    });
    reset_parameters(0);
  }

  std::string name() const override { return "BatchNorm2d(" + std::to_string(channels_) + ")"; }

  std::size_t channels() const { return channels_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  Tensor<T>& weight() { return weight_; }
  const Tensor<T>& weight() const { return weight_; }
  Tensor<T>& bias() { return bias_; }
  const Tensor<T>& bias() const { return bias_; }
  Tensor<T>& running_mean() { return running_mean_; }
  const Tensor<T>& running_mean() const { return running_mean_; }
  Tensor<T>& running_var() { return running_var_; }
  const Tensor<T>& running_var() const { return running_var_; }
  std::size_t num_batches_tracked() const { return std::size_t(batches_.data()[0]); }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<BatchNorm2d>(*this); }

  std::vector<NamedParameter<T>> parameters() override { return {{"weight", &weight_}, {"bias", &bias_}}; }
  std::vector<Shape> parameter_shapes() const override { return {Shape{channels_}, Shape{channels_}}; }
  std::size_t parameter_count() const override { return 2; }
  std::vector<NamedParameter<T>> buffers() override {
    return {{"running_mean", &running_mean_}, {"running_var", &running_var_}, {"num_batches_tracked", &batches_}};
  }

  // PyTorch's: weight 1, bias 0, the running statistics reset (nothing random).
  void reset_parameters(std::uint64_t) override {
    std::fill(weight_.begin(), weight_.end(), T(1));
    std::fill(bias_.begin(), bias_.end(), T(0));
    std::fill(running_mean_.begin(), running_mean_.end(), T(0));
    std::fill(running_var_.begin(), running_var_.end(), T(1));
    batches_.data()[0] = T(0);
  }

  bool couples_images() const override { return this->training(); }

  // In inference any element-wise post-ops (after the layer, over each block); in a pass for backward a
  // ReLU, whose mask backward reads from the ReLU's output: the layer's own output is not kept.
  bool accepts(const Shape& in, const kernels::PostOps& post_ops, Pass pass) const override {
    (void)in;
    if (pass == Pass::inference) return post_ops.elementwise_from(0);
    return post_ops.size() == 1 && post_ops[0].kind == kernels::PostOp::Kind::relu;
  }

  Shape output_shape(const Shape& in) const override {
    check_parameters();
    if (in.rank() != 4 || in[1] != channels_ || in.has_zero_dim())
      throw ShapeError(name() + ": expected input [N, " + std::to_string(channels_) + ", H, W] with N, H, W >= 1, got " +
                       in.str());
    return in;
  }

  // Images × channels; each block a run of whole maps.
  Workload workload(const Shape& in) const override {
    Workload w;
    w.space = IndexSpace{in[0], in[1]};
    w.flops = 2.0 * double(in.numel());
    w.bytes = 2.0 * double(sizeof(T)) * double(in.numel());
    w.one_core_ns = kernels::cost::copy_ns(w.bytes);
    return w;
  }

 protected:
  // With the running statistics.
  void run(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>& ws) const override {
    Tensor<T>& affine = ws.tensor(1, Shape{2, channels_});
    for (std::size_t c = 0; c < channels_; ++c) {
      const double invstd = 1.0 / std::sqrt(double(running_var_.data()[c]) + eps_);
      set_affine(affine, c, double(running_mean_.data()[c]), invstd);
    }
    apply(in, out, affine, strategy);
  }

  // In training: the batch's statistics, kept in ws for backward (mean, 1/std), and the running ones
  // updated.
  void run_for_backward(TensorView<const T> in, TensorView<T> out, const Strategy& strategy,
                        Workspace<T>& ws) const override {
    if (!this->training()) return run(in, out, strategy, ws);
    apply(in, out, batch_statistics(in, ws), strategy);
  }

  // The same, then the ReLU (the only post-op accepted for backward) in the same pass.
  void run_fused_for_backward(TensorView<const T> in, TensorView<T> out, const kernels::PostOps& post_ops,
                              kernels::EpilogueRecord<T> record, const Strategy& strategy,
                              Workspace<T>& ws) const override {
    if (!this->training()) return this->run_fused(in, out, post_ops, record, strategy, ws);
    apply(in, out, batch_statistics(in, ws), strategy, /*relu=*/true);
  }

  void run_backward(TensorView<const T> in, TensorView<const T>, TensorView<const T> grad_out, TensorView<T> grad_in,
                    GradientSlice<T> grads, Workspace<T>& ws) const override {
    backward_through(in, grad_out, nullptr, grad_in, grads, ws);
  }

  // Through the ReLU after it: `pooled` is the ReLU's output, its mask applied to grad_out as it is read.
  void run_backward_fused(TensorView<const T> in, TensorView<const T>, TensorView<const T> pooled,
                          TensorView<const T> grad_out, TensorView<T> grad_in, const kernels::PostOps&,
                          GradientSlice<T> grads, Workspace<T>& ws, const std::uint32_t*) const override {
    backward_through(in, grad_out, pooled.data(), grad_in, grads, ws);
  }

 private:
  // The batch's statistics of channel after channel: kept in ws for backward (mean, 1/std), the running
  // ones updated; returns the affine map (scale, shift) they give.
  const Tensor<T>& batch_statistics(TensorView<const T> in, Workspace<T>& ws) const {
    const std::size_t N = in.dim(0), HW = in.dim(2) * in.dim(3), M = N * HW;
    if (M < 2)
      throw ShapeError(name() + ": training needs more than one value per channel, got input " + in.shape().str());
    Tensor<T>& stats = ws.tensor(0, Shape{2, channels_});
    Tensor<T>& affine = ws.tensor(1, Shape{2, channels_});
    run_blocks(IndexSpace{channels_}, Cut{}, [&](const Block& blk, std::size_t) {
      for (std::size_t c = blk.n.begin; c < blk.n.end; ++c) {
        double mean = 0, var = 0;
        kernels::batch_norm_moments(in.data(), N, channels_, HW, c, mean, var);
        const double invstd = 1.0 / std::sqrt(var + eps_);
        stats.data()[c] = T(mean);
        stats.data()[channels_ + c] = T(invstd);
        set_affine(affine, c, mean, invstd);
        T& rm = running_mean_.data()[c];
        T& rv = running_var_.data()[c];
        rm = T((1 - momentum_) * double(rm) + momentum_ * mean);
        rv = T((1 - momentum_) * double(rv) + momentum_ * var * double(M) / double(M - 1));
      }
    });
    batches_.data()[0] += T(1);
    return affine;
  }

  // Channels in parallel; in each, one pass for the batch's sums and each chunk's (its parameter
  // gradients), then the input gradient. With `mask` (a ReLU's output, laid out as in), grad_out taken
  // through that ReLU.
  void backward_through(TensorView<const T> in, TensorView<const T> grad_out, const T* mask, TensorView<T> grad_in,
                        GradientSlice<T> grads, Workspace<T>& ws) const {
    const bool batch = this->training();
    if (batch && (!ws.has_tensor(0) || ws.tensor(0).shape() != Shape{2, channels_}))
      throw ConfigError(name() + ": backward in training mode needs the batch statistics of forward_for_backward, "
                                 "run in this workspace and in training mode");
    const std::size_t N = in.dim(0), HW = in.dim(2) * in.dim(3);
    run_blocks(IndexSpace{channels_}, Cut{}, [&](const Block& blk, std::size_t) {
      for (std::size_t c = blk.n.begin; c < blk.n.end; ++c) {
        double mean, invstd;
        if (batch) {
          mean = double(ws.tensor(0).data()[c]);
          invstd = double(ws.tensor(0).data()[channels_ + c]);
        } else {
          mean = double(running_mean_.data()[c]);
          invstd = 1.0 / std::sqrt(double(running_var_.data()[c]) + eps_);
        }
        double dy_xhat = 0, dy = 0;
        kernels::batch_norm_sums(
            in.data(), grad_out.data(), mask, N, channels_, HW, c, mean, invstd,
            grads.count(), [&](std::size_t k) { return grads.images(k).end; },
            [&](std::size_t k, double chunk_dy_xhat, double chunk_dy) {
              grads.grad(k, 0).data()[c] += T(chunk_dy_xhat);
              grads.grad(k, 1).data()[c] += T(chunk_dy);
            },
            dy_xhat, dy);
        if (!grad_in.empty())
          kernels::batch_norm_input_gradient(in.data(), grad_out.data(), mask, N, channels_, HW, c, mean, invstd,
                                             double(weight_.data()[c]), batch, dy_xhat, dy, grad_in.data());
      }
    });
  }

  // Channel c's y = x·scale + shift, scale = weight·invstd, shift = bias − mean·scale (as PyTorch).
  void set_affine(Tensor<T>& affine, std::size_t c, double mean, double invstd) const {
    const double scale = double(weight_.data()[c]) * invstd;
    affine.data()[c] = T(scale);
    affine.data()[channels_ + c] = T(double(bias_.data()[c]) - mean * scale);
  }

  void apply(TensorView<const T> in, TensorView<T> out, const Tensor<T>& affine, const Strategy& strategy,
             bool relu = false) const {
    const Workload work = workload(in.shape());
    const std::size_t HW = in.dim(2) * in.dim(3);
    run_blocks(work.space, strategy.cut(work, current_workers()), [&](const Block& blk, std::size_t) {
      kernels::batch_norm_apply(in.data(), channels_, HW, blk.n, blk.c, affine.data(), affine.data() + channels_,
                                out.data(), relu);
    });
  }

  void check_parameters() const {
    for (const Tensor<T>* t : std::initializer_list<const Tensor<T>*>{&weight_, &bias_, &running_mean_, &running_var_})
      if (t->shape() != Shape{channels_})
        throw ShapeError(name() + ": its parameters and running statistics must have shape [" +
                         std::to_string(channels_) + "], one has " + t->shape().str());
  }

  std::size_t channels_;
  double eps_, momentum_;
  Tensor<T> weight_, bias_;
  mutable Tensor<T> running_mean_, running_var_, batches_;  // updated by a training-mode forward_for_backward
};

}  // namespace parcnn
