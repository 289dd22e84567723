// parcnn/layers/flatten.hpp — Flatten: [N, C, H, W] (or any rank >= 2) → [N, C·H·W].
//
// NCHW memory is already in flattened order, so this is a copy; a caller holding the tensor can use
// `view.flatten()` instead and copy nothing.
#pragma once

#include <algorithm>
#include <memory>
#include <string>

#include "parcnn/core/error.hpp"
#include "parcnn/kernels/cost.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/parallel/run.hpp"
#include "parcnn/parallel/executor.hpp"

namespace parcnn {

template <class T>
class Flatten final : public Layer<T> {
 public:
  std::string name() const override { return "Flatten"; }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Flatten>(*this); }

  Shape output_shape(const Shape& in) const override {
    if (in.rank() < 2 || in.has_zero_dim())
      throw ShapeError(name() + ": expected a non-empty input [N, ...] of rank 2 to 4, got " + in.str());
    return Shape{in[0], in.inner_numel()};
  }

  Workload workload(const Shape& in) const override {
    Workload w;
    w.space = IndexSpace{in[0], 1, 1, 1};
    w.bytes = 2.0 * double(sizeof(T)) * double(in.numel());
    w.one_core_ns = kernels::cost::copy_ns(w.bytes);
    return w;
  }

 protected:
  void run(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>&) const override {
    const Workload work = workload(in.shape());
    const std::size_t inner = in.shape().inner_numel();
    run_blocks(work.space, strategy.cut(work, current_workers()), [&](const Block& blk, std::size_t) {
      std::copy(in.data() + blk.n.begin * inner, in.data() + blk.n.end * inner, out.data() + blk.n.begin * inner);
    });
  }

  void run_backward(TensorView<const T>, TensorView<const T>, TensorView<const T> grad_out, TensorView<T> grad_in,
                    GradientSlice<T>, Workspace<T>&) const override {
    if (!grad_in.empty()) std::copy(grad_out.begin(), grad_out.end(), grad_in.begin());
  }
};

}  // namespace parcnn
