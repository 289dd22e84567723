// parcnn/layers/rowwise.hpp — RowwiseLayer: the base of the layers that map each row of [N, C] as a
// whole (Softmax, LogSoftmax). Each row is a reduction, so strategies cut images only (Channel and
// Spatial fall back to images); every row is computed alone, so all cuts give the same bits.
#pragma once

#include <cstddef>
#include <string>

#include "parcnn/core/error.hpp"
#include "parcnn/kernels/cost.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/parallel/executor.hpp"
#include "parcnn/parallel/run.hpp"

namespace parcnn {

template <class T>
class RowwiseLayer : public Layer<T> {
 public:
  Shape output_shape(const Shape& in) const override {
    if (in.rank() != 2 || in.has_zero_dim())
      throw ShapeError(this->name() + ": expected input [N, C] with N, C >= 1, got " + in.str());
    return in;
  }

  // An exp per value, as log-softmax's.
  Workload workload(const Shape& in) const override {
    Workload w;
    w.space = IndexSpace{in[0], 1, 1, 1};
    w.flops = 25.0 * double(in.numel());
    w.bytes = 2.0 * double(sizeof(T)) * double(in.numel());
    w.one_core_ns = kernels::cost::log_softmax_ns(double(in.numel()));
    return w;
  }

 protected:
  // Rows [r0, r1) of x [N, cols] into y, and the backward pass from the output y and dy.
  virtual void rows(const T* x, std::size_t cols, std::size_t r0, std::size_t r1, T* y) const = 0;
  virtual void backward_rows(const T* y, const T* dy, std::size_t cols, std::size_t r0, std::size_t r1,
                             T* dx) const = 0;

  void run(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>&) const override {
    const Workload work = workload(in.shape());
    const std::size_t cols = in.dim(1);
    run_blocks(work.space, strategy.cut(work, current_workers()), [&](const Block& blk, std::size_t) {
      rows(in.data(), cols, blk.n.begin, blk.n.end, out.data());
    });
  }

  void run_backward(TensorView<const T> in, TensorView<const T> out, TensorView<const T> grad_out, TensorView<T> grad_in,
                    GradientSlice<T>, Workspace<T>&) const override {
    if (grad_in.empty()) return;
    run_blocks(IndexSpace{in.dim(0)}, Cut{}, [&](const Block& blk, std::size_t) {
      backward_rows(out.data(), grad_out.data(), in.dim(1), blk.n.begin, blk.n.end, grad_in.data());
    });
  }
};

}  // namespace parcnn
