// parcnn/layers/softmax.hpp — Softmax over the classes of each image: [N, C] → [N, C], rows summing to 1.
//
// Each row is a reduction, so strategies cut images only (Channel and Spatial fall back to images). To
// train a classifier, end the model in LogSoftmax (NLL loss) or in neither (cross-entropy on logits):
// the log of a softmax loses the small probabilities.
#pragma once

#include <memory>
#include <string>

#include "parcnn/core/error.hpp"
#include "parcnn/kernels/cost.hpp"
#include "parcnn/kernels/softmax.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/parallel/executor.hpp"
#include "parcnn/parallel/run.hpp"

namespace parcnn {

template <class T>
class Softmax final : public Layer<T> {
 public:
  std::string name() const override { return "Softmax(dim=1)"; }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Softmax>(*this); }

  Shape output_shape(const Shape& in) const override {
    if (in.rank() != 2 || in.has_zero_dim())
      throw ShapeError(name() + ": expected input [N, C] with N, C >= 1, got " + in.str());
    return in;
  }

  Workload workload(const Shape& in) const override {
    Workload w;
    w.space = IndexSpace{in[0], 1, 1, 1};
    w.flops = 25.0 * double(in.numel());
    w.bytes = 2.0 * double(sizeof(T)) * double(in.numel());
    w.one_core_ns = kernels::cost::log_softmax_ns(double(in.numel()));  // the same exp per value
    return w;
  }

 protected:
  void run(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>&) const override {
    const Workload work = workload(in.shape());
    const std::size_t classes = in.dim(1);
    run_blocks(work.space, strategy.cut(work, current_workers()), [&](const Block& blk, std::size_t) {
      kernels::softmax_rows(in.data(), classes, blk.n.begin, blk.n.end, out.data());
    });
  }

  void run_backward(TensorView<const T> in, TensorView<const T> out, TensorView<const T> grad_out, TensorView<T> grad_in,
                    GradientSlice<T>, Workspace<T>&) const override {
    if (grad_in.empty()) return;
    run_blocks(IndexSpace{in.dim(0)}, Cut{}, [&](const Block& blk, std::size_t) {
      kernels::softmax_backward_rows(out.data(), grad_out.data(), in.dim(1), blk.n.begin, blk.n.end, grad_in.data());
    });
  }
};

}  // namespace parcnn
