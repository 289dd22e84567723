// parcnn/layers/avgpool2d.hpp — AvgPool2d: the mean over windows of each channel, as torch.nn.AvgPool2d.
//
// Input [N, C, H, W] → [N, C, OH, OW], OH = floor((H + 2·pad − k) / stride) + 1 (ceil(...) + 1 in ceil
// mode, where a window must still start inside the input or its left padding). Padding reads as 0 and
// may be at most half the kernel; the divisor counts it (count_include_pad, PyTorch's default) or not.
// Stride defaults to the kernel size. The cut is images × channels × output rows × columns; every
// output is its own sum, so all strategies give the same bits.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "parcnn/core/error.hpp"
#include "parcnn/kernels/avgpool2d.hpp"
#include "parcnn/kernels/cost.hpp"
#include "parcnn/kernels/pool_windows.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/layers/maxpool2d.hpp"
#include "parcnn/layers/size2d.hpp"
#include "parcnn/parallel/executor.hpp"
#include "parcnn/parallel/run.hpp"

namespace parcnn {

namespace detail {
// An average pool of some windows (AvgPool2d, AdaptiveAvgPool2d): forward and backward over them.
template <class T>
class AveragePool : public Layer<T> {
 public:
  Shape output_shape(const Shape& in) const override {
    check_input(in);
    const auto [rows, cols] = windows(in);
    return this->output_of({in[0], in[1], rows.out, cols.out}, in);
  }

  Workload workload(const Shape& in) const override {
    const auto [rows, cols] = windows(in);
    Workload w;
    w.space = IndexSpace{in[0], in[1], rows.out, cols.out};
    const double read = double(in[0] * in[1]) * double(reads(rows)) * double(reads(cols));
    w.flops = read + double(w.space.items());
    w.bytes = double(sizeof(T)) * (double(in.numel()) + double(w.space.items()));
    w.one_core_ns = kernels::cost::max_pool_ns(double(in[0] * in[1] * rows.out), read);
    return w;
  }

 protected:
  // The windows along the rows and the columns for input `in` (whose rank and sizes check_input passed).
  virtual std::pair<kernels::PoolWindows, kernels::PoolWindows> windows(const Shape& in) const = 0;
  // ShapeError unless the layer takes `in`.
  virtual void check_input(const Shape& in) const = 0;

  void run(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>&) const override {
    const auto w = windows(in.shape());
    const kernels::PoolWindows &rows = w.first, &cols = w.second;
    const Workload work = workload(in.shape());
    const std::size_t in_image = in.size() / in.dim(0), out_image = out.size() / out.dim(0);
    run_blocks(work.space, strategy.cut(work, current_workers()), [&](const Block& blk, std::size_t) {
      for (std::size_t n = blk.n.begin; n < blk.n.end; ++n)
        kernels::avgpool2d_forward(in.data() + n * in_image, rows, cols, blk.c, blk.h, blk.w, out.data() + n * out_image);
    });
  }

  void run_backward(TensorView<const T> in, TensorView<const T>, TensorView<const T> grad_out, TensorView<T> grad_in,
                    GradientSlice<T>, Workspace<T>&) const override {
    if (grad_in.empty()) return;
    const auto w = windows(in.shape());
    const kernels::PoolWindows &rows = w.first, &cols = w.second;
    const std::size_t in_image = in.size() / in.dim(0), out_image = grad_out.size() / grad_out.dim(0);
    run_blocks(IndexSpace{in.dim(0)}, Cut{}, [&](const Block& blk, std::size_t) {
      for (std::size_t n = blk.n.begin; n < blk.n.end; ++n)
        kernels::avgpool2d_backward(grad_out.data() + n * out_image, rows, cols, in.dim(1), grad_in.data() + n * in_image);
    });
  }

 private:
  // Inputs read by all the windows of one dimension.
  static std::size_t reads(const kernels::PoolWindows& d) {
    std::size_t total = 0;
    for (std::size_t o = 0; o < d.out; ++o) total += d[o].end - d[o].begin;
    return total;
  }
};
}  // namespace detail

template <class T>
class AvgPool2d final : public detail::AveragePool<T> {
 public:
  explicit AvgPool2d(Size2d kernel, std::optional<Size2d> stride = std::nullopt, Size2d padding = 0,
                     PoolRounding rounding = PoolRounding::floor, bool count_include_pad = true)
      : kernel_(kernel), stride_(stride.value_or(kernel)), padding_(padding), rounding_(rounding),
        count_pad_(count_include_pad) {
    detail::check_pool(name(), kernel_, stride_, padding_);
  }

  std::string name() const override {
    std::string s = "AvgPool2d(k=" + kernel_.str();
    if (stride_.h != kernel_.h || stride_.w != kernel_.w) s += ", stride=" + stride_.str();
    if (padding_.h || padding_.w) s += ", pad=" + padding_.str();
    if (rounding_ == PoolRounding::ceil) s += ", ceil";
    if (!count_pad_ && (padding_.h || padding_.w)) s += ", pad not counted";
    return s + ")";
  }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<AvgPool2d>(*this); }

 protected:
  void check_input(const Shape& in) const override {
    const std::size_t min_h = kernel_.h - 2 * padding_.h, min_w = kernel_.w - 2 * padding_.w;
    if (in.rank() != 4 || in.has_zero_dim() || in[2] < min_h || in[3] < min_w)
      throw ShapeError(name() + ": expected input [N, C, H, W] with N, C >= 1, H >= " + std::to_string(min_h) +
                       ", W >= " + std::to_string(min_w) + ", got " + in.str());
  }

  std::pair<kernels::PoolWindows, kernels::PoolWindows> windows(const Shape& in) const override {
    return {dimension(in[2], kernel_.h, stride_.h, padding_.h), dimension(in[3], kernel_.w, stride_.w, padding_.w)};
  }

 private:
  kernels::PoolWindows dimension(std::size_t in, std::size_t k, std::size_t s, std::size_t p) const {
    return {in, detail::pool_out_size(in, k, s, p, rounding_), k, s, p, count_pad_, false};
  }

  Size2d kernel_, stride_, padding_;
  PoolRounding rounding_;
  bool count_pad_;
};

}  // namespace parcnn
