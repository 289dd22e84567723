// parcnn/core/range.hpp — a half-open range of indices, and the rounding-up division that cuts one.
#pragma once

#include <cstddef>

namespace parcnn {

inline constexpr std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

// Indices [begin, end).
struct Range {
  std::size_t begin = 0, end = 0;
  std::size_t size() const { return end - begin; }
};

}  // namespace parcnn
