// parcnn/layers/linear.hpp — Linear: y = x Wᵀ + b over a batch of rows.
//
// Input [N, in_features] → [N, out_features]. Parameters in PyTorch's layout: weight
// [out_features, in_features], bias [out_features]. The strategy cuts images (Batch) or output
// features (Channel); every output is the same chain of multiply-adds whatever the cut (see
// kernels/gemm.hpp), so all strategies give the same bits. A plan runs the element-wise layers after it
// (GELU, ReLU) on each block's outputs as post-ops.
#pragma once

#include <memory>
#include <string>

#include "parcnn/core/error.hpp"
#include "parcnn/kernels/cost.hpp"
#include "parcnn/kernels/linear.hpp"
#include "parcnn/core/random.hpp"
#include "parcnn/layers/init.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/parallel/run.hpp"
#include "parcnn/parallel/executor.hpp"

namespace parcnn {

template <class T>
class Linear final : public Layer<T> {
 public:
  // The parameters start from PyTorch's default initialisation (reset_parameters), seeded by
  // next_default_seed(); layers/init.hpp has the others.
  Linear(std::size_t in_features, std::size_t out_features, bool bias = true) : in_(in_features), out_(out_features) {
    if (in_ == 0 || out_ == 0) throw ConfigError(name() + ": feature counts must be at least 1");
    this->make_parameters([&] {
      weight_ = Tensor<T>(Shape{out_, in_});
      if (bias) bias_ = Tensor<T>(Shape{out_});
    });
    reset_parameters(next_default_seed());
  }

  std::string name() const override { return "Linear(" + std::to_string(in_) + "->" + std::to_string(out_) + ")"; }

  std::size_t in_features() const { return in_; }
  std::size_t out_features() const { return out_; }
  Tensor<T>& weight() { return weight_; }
  const Tensor<T>& weight() const { return weight_; }
  Tensor<T>& bias() { return bias_; }
  const Tensor<T>& bias() const { return bias_; }
  bool has_bias() const { return !bias_.empty(); }
  void use_gemm(kernels::GemmBackend backend) override { gemm_ = backend; }
  kernels::GemmBackend gemm() const { return gemm_; }

  std::vector<NamedParameter<T>> parameters() override {
    std::vector<NamedParameter<T>> p{{"weight", &weight_}};
    if (has_bias()) p.push_back({"bias", &bias_});
    return p;
  }

  std::size_t parameter_count() const override { return has_bias() ? 2 : 1; }

  std::vector<Shape> parameter_shapes() const override {
    std::vector<Shape> s{Shape{out_, in_}};
    if (has_bias()) s.push_back(Shape{out_});
    return s;
  }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Linear>(*this); }

  // PyTorch's default: weight Kaiming-uniform (a = √5), bias uniform in ±1/√in_features.
  void reset_parameters(std::uint64_t seed) override { init::torch_default<T>(weight_, bias_, seed); }

  Shape output_shape(const Shape& in) const override {
    if (weight_.shape() != Shape{out_, in_})
      throw ShapeError(name() + ": weight must have shape " + Shape{out_, in_}.str() + ", got " + weight_.shape().str());
    if (has_bias() && bias_.shape() != Shape{out_})
      throw ShapeError(name() + ": bias must have shape " + Shape{out_}.str() + ", got " + bias_.shape().str());
    if (in.rank() != 2 || in[1] != in_ || in[0] == 0)
      throw ShapeError(name() + ": expected input [N, " + std::to_string(in_) + "] with N >= 1, got " + in.str() +
                       (in.rank() == 4 ? " (flatten it first)" : ""));
    return this->output_of({in[0], out_}, in);
  }

  Workload workload(const Shape& in) const override {
    Workload w;
    w.space = IndexSpace{in[0], out_, 1, 1};
    w.flops = 2.0 * double(in[0]) * double(in_) * double(out_);
    w.parameter_bytes = double(sizeof(T)) * double(weight_.size());
    w.bytes = double(sizeof(T)) * double(in[0] * in_ + in[0] * out_) + w.parameter_bytes;
    w.one_core_ns = kernels::cost::gemm_ns<T>(double(out_), double(in[0]), double(in_), w.bytes,
                                              kernels::cost::rates().small_gemm_flop_per_ns);
    w.stacked_images = kernels::linear_tile_rows;
    return w;
  }

 protected:
  void run(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>&) const override {
    run_linear(in, out, kernels::PostOps{}, strategy);
  }

  // Element-wise post-ops (what Layer::accepts allows) run on each block's outputs right after its
  // GEMM, while they are in cache.
  void run_fused(TensorView<const T> in, TensorView<T> out, const kernels::PostOps& post_ops,
                 kernels::EpilogueRecord<T>, const Strategy& strategy, Workspace<T>&) const override {
    run_linear(in, out, post_ops, strategy);
  }

  void run_linear(TensorView<const T> in, TensorView<T> out, const kernels::PostOps& post_ops,
                  const Strategy& strategy) const {
    const Workload work = workload(in.shape());
    const T* x = in.data();
    T* y = out.data();
    const T* b = has_bias() ? bias_.data() : nullptr;
    run_blocks(work.space, strategy.cut(work, current_workers()), [&](const Block& blk, std::size_t) {
      kernels::linear_forward(x, weight_.data(), b, in_, out_, blk.n, blk.c, y, gemm_);
      if (post_ops.empty()) return;
      for (std::size_t n = blk.n.begin; n < blk.n.end; ++n) {
        T* row = y + n * out_ + blk.c.begin;
        kernels::apply_elementwise_post_ops(post_ops, row, row, blk.c.size());
      }
    });
  }

  // Chunks in parallel; in a chunk, its images in order (see GradientChunks).
  void run_backward(TensorView<const T> in, TensorView<const T>, TensorView<const T> grad_out, TensorView<T> grad_in,
                    GradientSlice<T> grads, Workspace<T>& ws) const override {
    ws.reserve_scratch(current_workers(), kernels::gemm_scratch<T>(out_, grads.chunks->chunk_images()));
    run_blocks(IndexSpace{grads.count()}, Cut{}, [&](const Block& blk, std::size_t worker) {
      for (std::size_t c = blk.n.begin; c < blk.n.end; ++c)
        kernels::linear_backward(in.data(), weight_.data(), grad_out.data(), in_, out_, grads.images(c),
                                 grads.grad(c, 0).data(), has_bias() ? grads.grad(c, 1).data() : nullptr,
                                 grad_in.empty() ? nullptr : grad_in.data(), ws.scratch(worker));
    });
  }

 private:
  std::size_t in_, out_;
  Tensor<T> weight_, bias_;
  kernels::GemmBackend gemm_ = kernels::GemmBackend::parcnn;
};

}  // namespace parcnn
