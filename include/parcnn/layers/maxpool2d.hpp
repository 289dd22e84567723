// parcnn/layers/maxpool2d.hpp — MaxPool2d: max over windows of each channel.
//
// Input [N, C, H, W] → [N, C, OH, OW] with, as in PyTorch, OH = floor((H + 2·pad − k) / stride) + 1,
// or ceil(...) + 1 in ceil mode, where a window must still start inside the input or its left padding.
// Padding reads as −∞ and may be at most half the kernel. Stride defaults to the kernel size.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "parcnn/core/error.hpp"
#include "parcnn/kernels/cost.hpp"
#include "parcnn/kernels/maxpool2d.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/layers/size2d.hpp"
#include "parcnn/parallel/run.hpp"
#include "parcnn/parallel/executor.hpp"

namespace parcnn {

enum class PoolRounding { floor, ceil };

namespace detail {
// ConfigError (naming the layer) unless a pool's kernel and stride are 1 to 2^60 and its padding at
// most half the kernel.
inline void check_pool(const std::string& name, Size2d kernel, Size2d stride, Size2d padding) {
  if (kernel.h == 0 || kernel.w == 0) throw ConfigError(name + ": kernel size must be at least 1");
  if (stride.h == 0 || stride.w == 0) throw ConfigError(name + ": stride must be at least 1");
  for (std::size_t extent : {kernel.h, kernel.w, stride.h, stride.w})
    if (extent > Shape::max_numel) throw ConfigError(name + ": kernel and stride must be at most 2^60");
  if (padding.h > kernel.h / 2 || padding.w > kernel.w / 2)
    throw ConfigError(name + ": padding may be at most half the kernel size");
}

// A pool's outputs along a dimension of `in` inputs, as PyTorch counts them: floor((in + 2p − k) / s) + 1,
// or ceil in ceil mode, where the last window must still start inside the input or its left padding.
inline std::size_t pool_out_size(std::size_t in, std::size_t k, std::size_t s, std::size_t p, PoolRounding rounding) {
  const std::size_t span = in + 2 * p - k;
  std::size_t out = (rounding == PoolRounding::ceil ? (span + s - 1) / s : span / s) + 1;
  if (rounding == PoolRounding::ceil && (out - 1) * s >= in + p) --out;
  return out;
}
}  // namespace detail

template <class T>
class MaxPool2d final : public Layer<T> {
 public:
  explicit MaxPool2d(Size2d kernel, std::optional<Size2d> stride = std::nullopt, Size2d padding = 0,
                     PoolRounding rounding = PoolRounding::floor)
      : kernel_(kernel), stride_(stride.value_or(kernel)), padding_(padding), rounding_(rounding) {
    detail::check_pool(name(), kernel_, stride_, padding_);
  }

  std::string name() const override {
    std::string s = "MaxPool2d(k=" + kernel_.str();
    if (stride_.h != kernel_.h || stride_.w != kernel_.w) s += ", stride=" + stride_.str();
    if (padding_.h || padding_.w) s += ", pad=" + padding_.str();
    if (rounding_ == PoolRounding::ceil) s += ", ceil";
    return s + ")";
  }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<MaxPool2d>(*this); }

  Shape output_shape(const Shape& in) const override {
    const std::size_t min_h = kernel_.h - 2 * padding_.h, min_w = kernel_.w - 2 * padding_.w;
    if (in.rank() != 4 || in.has_zero_dim() || in[2] < min_h || in[3] < min_w)
      throw ShapeError(name() + ": expected input [N, C, H, W] with N, C >= 1, H >= " + std::to_string(min_h) +
                       ", W >= " + std::to_string(min_w) + ", got " + in.str());
    const kernels::Conv2dGeometry g = geometry(in);
    return this->output_of({in[0], in[1], g.out_h, g.out_w}, in);
  }

  Workload workload(const Shape& in) const override {
    const kernels::Conv2dGeometry g = geometry(in);
    Workload w;
    w.space = IndexSpace{in[0], in[1], g.out_h, g.out_w};
    w.flops = double(w.space.items()) * double(kernel_.h * kernel_.w);
    w.bytes = double(sizeof(T)) * double(in.numel() + w.space.items());
    w.one_core_ns = kernels::is_pool_2x2(g) ? kernels::cost::max_pool_2x2_ns(double(in[0] * in[1]), double(g.out_h), double(g.out_w))
                               : kernels::cost::max_pool_ns(double(in[0] * in[1] * g.out_h), w.flops);
    return w;
  }

  // 2×2 windows of stride 2 without padding are a post-op of the layer before (floor rounding, or ceil
  // on even sizes, where the two agree).
  std::optional<kernels::PostOp> as_post_op(const Shape& in) const override {
    const bool two_by_two = kernel_.h == 2 && kernel_.w == 2 && stride_.h == 2 && stride_.w == 2 && padding_.h == 0 &&
                            padding_.w == 0;
    const bool floors = rounding_ == PoolRounding::floor || (in.rank() == 4 && in[2] % 2 == 0 && in[3] % 2 == 0);
    if (!two_by_two || !floors) return std::nullopt;
    return kernels::PostOp{kernels::PostOp::Kind::max_pool_2x2};
  }

  kernels::Conv2dGeometry geometry(const Shape& in) const {
    kernels::Conv2dGeometry g;
    g.in_c = g.out_c = in[1];
    g.in_h = in[2];
    g.in_w = in[3];
    g.k_h = kernel_.h;
    g.k_w = kernel_.w;
    g.stride_h = stride_.h;
    g.stride_w = stride_.w;
    g.pad_h = padding_.h;
    g.pad_w = padding_.w;
    g.out_h = detail::pool_out_size(g.in_h, kernel_.h, stride_.h, padding_.h, rounding_);
    g.out_w = detail::pool_out_size(g.in_w, kernel_.w, stride_.w, padding_.w, rounding_);
    return g;
  }

 protected:
  // Forgets any positions an earlier forward_for_backward recorded in `ws`: they no longer match.
  void run(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>& ws) const override {
    ws.indices(0);
    const kernels::Conv2dGeometry g = geometry(in.shape());
    const Workload work = workload(in.shape());
    const T* x = in.data();
    T* y = out.data();
    run_blocks(work.space, strategy.cut(work, current_workers()), [&](const Block& blk, std::size_t) {
      for (std::size_t n = blk.n.begin; n < blk.n.end; ++n)
        kernels::maxpool2d_forward(x + n * g.in_image(), g, blk.c, blk.h, blk.w, y + n * g.out_image());
    });
  }

  // forward, and for 2×2 windows at stride 2 (a post-op: as_post_op) the position each window
  // took its value from, in ws.indices, in the same pass (kernels::maxpool2x2_positions: the bits of
  // forward's): the backward pass of a convolution with this pool after it reads them
  // (Layer::backward_fused) rather than the convolution's output again.
  void run_for_backward(TensorView<const T> in, TensorView<T> out, const Strategy& strategy,
                        Workspace<T>& ws) const override {
    const kernels::Conv2dGeometry g = geometry(in.shape());
    if (!as_post_op(in.shape()) || double(g.in_h) * double(g.in_w) >= 4294967295.0) {
      run(in, out, strategy, ws);
      return;
    }
    std::uint32_t* positions = ws.indices(out.size());
    const std::size_t planes = in.dim(0) * g.in_c, J = g.out_h * g.out_w;
    run_blocks(IndexSpace{planes}, Cut{std::max<std::size_t>(1, 4096 / std::max<std::size_t>(J, 1)), 1, 1, 1},
               [&](const Block& blk, std::size_t) {
                 for (std::size_t c = blk.n.begin; c < blk.n.end; ++c)
                   kernels::maxpool2x2_positions(in.data() + c * g.in_h * g.in_w, g.in_w, g.out_h, g.out_w,
                                                 positions + c * J, out.data() + c * J);
               });
  }

  void run_backward(TensorView<const T> in, TensorView<const T>, TensorView<const T> grad_out, TensorView<T> grad_in,
                    GradientSlice<T>, Workspace<T>&) const override {
    if (grad_in.empty()) return;
    const kernels::Conv2dGeometry g = geometry(in.shape());
    run_blocks(IndexSpace{in.dim(0)}, Cut{}, [&](const Block& blk, std::size_t) {
      for (std::size_t n = blk.n.begin; n < blk.n.end; ++n)
        kernels::maxpool2d_backward(in.data() + n * g.in_image(), grad_out.data() + n * g.out_image(), g,
                                    grad_in.data() + n * g.in_image());
    });
  }

 private:
  Size2d kernel_, stride_, padding_;
  PoolRounding rounding_;
};

}  // namespace parcnn
