// parcnn/kernels/pool_windows.hpp — the windows of an average pool along one dimension: which inputs
// each output reads and what it divides by, as PyTorch's avg_pool2d and adaptive_avg_pool2d count them.
#pragma once

#include <algorithm>
#include <cstddef>

namespace parcnn::kernels {

// Output o reads inputs [begin, end) and contributes `divisor` to its window's divisor (the product of
// the two dimensions').
struct PoolWindow {
  std::size_t begin = 0, end = 0, divisor = 1;
};

// The windows of one dimension of `in` inputs and `out` outputs: fixed (kernel k, stride s, padding p;
// the divisor counts the padding inside the padded input when count_pad, else only the inputs read) or
// adaptive (output o reads [⌊o·in/out⌋, ⌈(o+1)·in/out⌉)).
struct PoolWindows {
  std::size_t in = 1, out = 1;
  std::size_t k = 1, s = 1, p = 0;
  bool count_pad = true;
  bool adaptive = false;

  PoolWindow operator[](std::size_t o) const {
    if (adaptive) {
      const std::size_t begin = o * in / out, end = ((o + 1) * in + out - 1) / out;
      return {begin, end, end - begin};
    }
    // In the padded input's coordinates (shifted by p), as PyTorch: the window is clipped to the padded
    // input, which the divisor counts, then to the input itself.
    const std::size_t start = o * s, stop = std::min(start + k, in + 2 * p);
    const std::size_t begin = std::max(start, p) - p, clipped = std::min(stop, in + p);
    const std::size_t end = std::max(begin, clipped > p ? clipped - p : 0);
    return {begin, end, count_pad ? stop - start : end - begin};
  }
};

}  // namespace parcnn::kernels
