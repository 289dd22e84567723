// parcnn/layers/gelu.hpp — GELU, elementwise, any rank (1 to 4); exact (erf) or tanh approximation.
//
// The guide's network uses the tanh form; PyTorch's default is the exact form. Elementwise work is
// cut like any other layer: [N, C, H, W] as images × channels × rows × columns, [N, F] as images ×
// features. Every strategy computes each element the same way, so all are bitwise identical.
#pragma once

#include <memory>
#include <string>

#include "parcnn/core/error.hpp"
#include "parcnn/kernels/cost.hpp"
#include "parcnn/kernels/gelu.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/parallel/run.hpp"
#include "parcnn/parallel/executor.hpp"

namespace parcnn {

using kernels::GeluApproximation;

template <class T>
class GELU final : public Layer<T> {
 public:
  explicit GELU(GeluApproximation approximation = GeluApproximation::none) : approximation_(approximation) {}

  GeluApproximation approximation() const { return approximation_; }

  std::string name() const override {
    return approximation_ == GeluApproximation::tanh ? "GELU(tanh)" : "GELU";
  }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<GELU>(*this); }

  Shape output_shape(const Shape& in) const override {
    if (in.rank() == 0 || in.has_zero_dim())
      throw ShapeError(name() + ": expected a non-empty input of rank 1 to 4, got " + in.str());
    return in;
  }

  // GELU can run in a convolution's epilogue.
  std::optional<kernels::EpilogueStep> epilogue_step(const Shape&) const override {
    return kernels::EpilogueStep{kernels::EpilogueStep::Kind::gelu, approximation_};
  }

  Workload workload(const Shape& in) const override {
    Workload w;
    w.space = space_of(in);
    w.flops = 20.0 * double(in.numel());  // an exp or erf and a division: about 20 FLOP-equivalents
    w.bytes = 2.0 * double(sizeof(T)) * double(in.numel());
    w.one_core_ns = kernels::cost::gelu_ns<T>(double(in.numel()));
    return w;
  }

 protected:
  void run(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>&) const override {
    const Workload work = workload(in.shape());
    const IndexSpace s = work.space;
    const T* x = in.data();
    T* y = out.data();
    run_blocks(s, strategy.cut(work, current_workers()), [&](const Block& blk, std::size_t) {
      for (std::size_t n = blk.n.begin; n < blk.n.end; ++n) {
        const std::size_t image = n * s.c * s.h * s.w;
        if (blk.h.size() == s.h && blk.w.size() == s.w) {  // whole planes: one contiguous run
          const std::size_t off = image + blk.c.begin * s.h * s.w;
          kernels::gelu(approximation_, x + off, y + off, blk.c.size() * s.h * s.w);
          continue;
        }
        for (std::size_t c = blk.c.begin; c < blk.c.end; ++c)
          for (std::size_t h = blk.h.begin; h < blk.h.end; ++h) {
            const std::size_t off = image + (c * s.h + h) * s.w + blk.w.begin;
            kernels::gelu(approximation_, x + off, y + off, blk.w.size());
          }
      }
    });
  }

  void run_backward(TensorView<const T> in, TensorView<const T>, TensorView<const T> grad_out, TensorView<T> grad_in,
                    GradientSlice<T>, Workspace<T>&) const override {
    if (grad_in.empty()) return;
    const std::size_t images = in.rank() == 1 ? 1 : in.dim(0), per_image = in.size() / images;
    run_blocks(IndexSpace{images}, Cut{}, [&](const Block& blk, std::size_t) {
      const std::size_t off = blk.n.begin * per_image, count = blk.n.size() * per_image;
      kernels::gelu_backward(approximation_, in.data() + off, grad_out.data() + off, grad_in.data() + off, count);
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

  GeluApproximation approximation_;
};

}  // namespace parcnn
