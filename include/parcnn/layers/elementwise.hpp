// parcnn/layers/elementwise.hpp — ElementwiseLayer: the base of the layers that apply one function to
// every value (GELU, ReLU). Such a layer is its post-op (kernels/post_ops.hpp): the kernel, its backward
// pass and its cost are the post-op's, so the layer before can run it on its output instead.
//
// Any rank 1 to 4; the output has the input's shape. Cut like any other layer: [N, C, H, W] as images ×
// channels × rows × columns, [N, F] as images × features. Every strategy computes each value the same
// way, so all are bitwise identical.
#pragma once

#include <optional>
#include <string>

#include "parcnn/core/error.hpp"
#include "parcnn/kernels/cost.hpp"
#include "parcnn/kernels/post_ops.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/parallel/executor.hpp"
#include "parcnn/parallel/run.hpp"

namespace parcnn {

template <class T>
class ElementwiseLayer : public Layer<T> {
 public:
  // ConfigError unless `op` is element-wise.
  explicit ElementwiseLayer(kernels::PostOp op) : op_(op) {
    if (!op_.elementwise()) throw ConfigError(std::string(op_.str()) + " is not an element-wise function");
  }

  // The function this layer applies.
  kernels::PostOp function() const { return op_; }

  std::string name() const override { return op_.str(); }

  Shape output_shape(const Shape& in) const override {
    if (in.rank() == 0 || in.has_zero_dim())
      throw ShapeError(name() + ": expected a non-empty input of rank 1 to 4, got " + in.str());
    return in;
  }

  std::optional<kernels::PostOp> as_post_op(const Shape&) const override { return op_; }

  Workload workload(const Shape& in) const override {
    Workload w;
    w.space = space_of(in);
    w.flops = kernels::cost::post_op_flops(op_) * double(in.numel());
    w.bytes = 2.0 * double(sizeof(T)) * double(in.numel());
    w.one_core_ns = kernels::cost::post_op_ns<T>(op_, double(in.numel()));
    return w;
  }

 protected:
  void run(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>&) const override {
    const Workload work = workload(in.shape());
    const IndexSpace s = work.space;
    const T* x = in.data();
    T* y = out.data();
    run_blocks(s, strategy.cut(work, current_workers()), [&](const Block& blk, std::size_t) {
      for_each_run(s, blk, 1, [&](std::size_t off, std::size_t count) { kernels::apply_post_op(op_, x + off, y + off, count); });
    });
  }

  void run_backward(TensorView<const T> in, TensorView<const T>, TensorView<const T> grad_out, TensorView<T> grad_in,
                    GradientSlice<T>, Workspace<T>&) const override {
    if (grad_in.empty()) return;
    const std::size_t images = in.rank() == 1 ? 1 : in.dim(0), per_image = in.size() / images;
    run_blocks(IndexSpace{images}, Cut{}, [&](const Block& blk, std::size_t) {
      const std::size_t off = blk.n.begin * per_image, count = blk.n.size() * per_image;
      kernels::apply_post_op_backward(op_, in.data() + off, grad_out.data() + off, grad_in.data() + off, count);
    });
  }

 private:
  static IndexSpace space_of(const Shape& in) {
    switch (in.rank()) {
      case 1: return IndexSpace{1, in[0], 1, 1};
      case 2: return IndexSpace{in[0], in[1], 1, 1};
      case 3: return IndexSpace{in[0], in[1], in[2], 1};
      default: return IndexSpace{in[0], in[1], in[2], in[3]};
    }
  }

  kernels::PostOp op_;
};

}  // namespace parcnn
