// parcnn/layers/adaptive_avgpool2d.hpp — AdaptiveAvgPool2d: the mean over the windows that cut each
// channel into a given output size, as torch.nn.AdaptiveAvgPool2d; AdaptiveAvgPool2d(1) is global
// average pooling ([N, C, H, W] → [N, C, 1, 1]).
//
// Output row o reads input rows [⌊o·H/OH⌋, ⌈(o+1)·H/OH⌉), columns likewise (windows overlap, or repeat
// an input where the input is smaller than the output). The cut and the bits as AvgPool2d's.
#pragma once

#include <memory>
#include <string>

#include "parcnn/core/error.hpp"
#include "parcnn/layers/avgpool2d.hpp"
#include "parcnn/layers/size2d.hpp"

namespace parcnn {

template <class T>
class AdaptiveAvgPool2d final : public detail::AveragePool<T> {
 public:
  explicit AdaptiveAvgPool2d(Size2d output_size) : out_(output_size) {
    if (out_.h == 0 || out_.w == 0) throw ConfigError(name() + ": the output size must be at least 1");
    if (out_.h > Shape::max_numel || out_.w > Shape::max_numel)
      throw ConfigError(name() + ": the output size must be at most 2^60");
  }

  std::string name() const override { return "AdaptiveAvgPool2d(" + out_.str() + ")"; }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<AdaptiveAvgPool2d>(*this); }

 protected:
  void check_input(const Shape& in) const override {
    if (in.rank() != 4 || in.has_zero_dim())
      throw ShapeError(name() + ": expected input [N, C, H, W] with N, C, H, W >= 1, got " + in.str());
  }

  std::pair<kernels::PoolWindows, kernels::PoolWindows> windows(const Shape& in) const override {
    kernels::PoolWindows rows, cols;
    rows.in = in[2], rows.out = out_.h, rows.adaptive = true;
    cols.in = in[3], cols.out = out_.w, cols.adaptive = true;
    return {rows, cols};
  }

 private:
  Size2d out_;
};

}  // namespace parcnn
