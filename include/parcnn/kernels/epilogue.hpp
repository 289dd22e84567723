// parcnn/kernels/epilogue.hpp — what a convolution does to its output tile while the tile is still in
// cache: add the bias, then optionally take 2×2 maxima (stride 2, floor) and apply GELU, in that order
// (the letter CNN's conv → pool → GELU).
//
// Run apart, pool1 reads conv1's whole output back from memory (5.5 MB at batch 64) and GELU reads the
// pooled maps once more. Fused, both work on a block's tile in L1/L2, and a convolution followed by
// the pool computes only the outputs some window reads: conv2's 11×11 maps lose their last row and
// column (100 of 121 positions), conv3's 3×3 maps keep 2×2. Every step is the kernel the separate
// layer runs (maxpool2x2, gelu), on the same values in the same order: fused and separate give the same
// bits.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "parcnn/kernels/gelu.hpp"
#include "parcnn/kernels/maxpool2d.hpp"

namespace parcnn::kernels {

// One following layer's worth of epilogue, as that layer describes itself (Layer::epilogue_step).
struct EpilogueStep {
  enum class Kind { max_pool_2x2, gelu };
  Kind kind;
  GeluApproximation gelu_approximation = GeluApproximation::none;
};

struct Epilogue {
  bool max_pool_2x2 = false;  // 2×2 windows, stride 2, no padding, floor rounding
  bool gelu = false;
  GeluApproximation gelu_approximation = GeluApproximation::none;

  bool empty() const { return !max_pool_2x2 && !gelu; }

  // Whether `step` may come next: a pool before any GELU, each at most once.
  bool can_append(const EpilogueStep& step) const {
    return step.kind == EpilogueStep::Kind::max_pool_2x2 ? !max_pool_2x2 && !gelu : !gelu;
  }

  // This epilogue followed by `step` (which can_append must allow).
  Epilogue then(const EpilogueStep& step) const {
    Epilogue e = *this;
    if (step.kind == EpilogueStep::Kind::max_pool_2x2) {
      e.max_pool_2x2 = true;
    } else {
      e.gelu = true;
      e.gelu_approximation = step.gelu_approximation;
    }
    return e;
  }

  // Output positions per dimension for each position of the convolution's output it reads.
  std::size_t reduction() const { return max_pool_2x2 ? 2 : 1; }

  // "2x2 max pool + GELU(tanh)"
  std::string str() const {
    std::string s;
    if (max_pool_2x2) s = "2x2 max pool";
    if (gelu) s += std::string(s.empty() ? "" : " + ") + (gelu_approximation == GeluApproximation::tanh ? "GELU(tanh)" : "GELU");
    return s.empty() ? "none" : s;
  }
};

// What a training forward keeps of a pooled epilogue for the fused backward (Layer::backward_fused),
// in place of the convolution's output: for each window, the position in that output it took its value
// from (maxpool2x2_positions' numbering), and the pooled values before GELU (with GELU; without, they
// are the epilogue's output). Both laid out as the epilogue's output.
template <class T>
struct EpilogueRecord {
  std::uint32_t* positions = nullptr;
  T* pooled = nullptr;

  // The record from element `offset` of the epilogue's output on (an image's, a block's); null stays null.
  EpilogueRecord at(std::size_t offset) const {
    return {positions ? positions + offset : nullptr, pooled ? pooled + offset : nullptr};
  }
};

// One channel of a block, all but GELU. `tile` holds rows × cols outputs of a convolution (row-major,
// packed) before their bias, and is used as scratch; the biased, pooled values — rows/2 × cols/2 with the
// pool, else rows × cols — go to y with row stride ldy. bias: this channel's bias, or null. GELU is
// left to epilogue_gelu, over every channel of the block at once: a 1×1 pooled map (conv3's)
// would otherwise pad each single value to a whole vector chunk of GELU. With `pos` (and the pool),
// each window's position too, laid out as y: in the convolution's output map, `map_w` wide, in which
// the tile's first value is at `origin` (maxpool2x2_positions).
template <class T>
void epilogue_bias_and_pool(const Epilogue& e, T* tile, std::size_t rows, std::size_t cols, const T* bias, T* y,
                            std::size_t ldy, std::uint32_t* pos = nullptr, std::size_t map_w = 0,
                            std::size_t origin = 0) {
  if (bias) {
    const T b = *bias;
    for (std::size_t i = 0; i < rows * cols; ++i) tile[i] += b;
  }
  if (e.max_pool_2x2) {
    if (rows == 2 && cols == 2) {  // one window (conv3 of the letter CNN, per channel and image): no vectors
      *y = detail::max_of_window(tile[0], tile[1], tile[2], tile[3]);
      if (pos) {
        const int k = detail::window_choice(tile[0], tile[1], tile[2], tile[3]);
        *pos = std::uint32_t(origin + std::size_t(k >> 1) * map_w + std::size_t(k & 1));
      }
      return;
    }
    if (pos) {  // row by row: y's rows are ldy apart, the positions' too
      for (std::size_t r = 0; r < rows / 2; ++r)
        maxpool2x2_positions(tile + 2 * r * cols, cols, 1, cols / 2, pos + r * ldy, y + r * ldy, map_w,
                             origin + 2 * r * map_w);
      return;
    }
    maxpool2x2(tile, cols, rows / 2, cols / 2, y, ldy);
    return;
  }
  for (std::size_t r = 0; r < rows; ++r) std::copy(tile + r * cols, tile + (r + 1) * cols, y + r * ldy);
}

// The epilogue's GELU, if any, from x to y (the same memory, or apart) over `channels` planes of
// `rows` × `cols` values of one image's output (plane stride `plane`, row stride ldy): one run when they
// are contiguous.
template <class T>
void epilogue_gelu(const Epilogue& e, const T* x, T* y, std::size_t channels, std::size_t plane, std::size_t rows,
                   std::size_t cols, std::size_t ldy) {
  if (!e.gelu) return;
  if (ldy == cols && plane == rows * cols) {
    gelu(e.gelu_approximation, x, y, channels * plane);
    return;
  }
  for (std::size_t c = 0; c < channels; ++c)
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t at = c * plane + r * ldy;
      gelu(e.gelu_approximation, x + at, y + at, cols);
    }
}

}  // namespace parcnn::kernels
