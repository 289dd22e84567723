// parcnn/layers/size2d.hpp — a (height, width) pair for kernel sizes, strides and paddings.
#pragma once

#include <cstddef>
#include <string>

namespace parcnn {

struct Size2d {
  std::size_t h = 0, w = 0;
  Size2d(std::size_t both) : h(both), w(both) {}  // NOLINT: `3` means 3×3, as in PyTorch
  Size2d(std::size_t height, std::size_t width) : h(height), w(width) {}
  bool square() const { return h == w; }
  std::string str() const { return square() ? std::to_string(h) : std::to_string(h) + "x" + std::to_string(w); }
};

}  // namespace parcnn
