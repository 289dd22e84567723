// parcnn/kernels/epilogue.hpp — what a convolution does to its output tile while the tile is still in
// cache: add the bias, then run its post-ops (kernels/post_ops.hpp): a 2×2 max pool (stride 2, floor)
// if the list starts with one, then the element-wise ones in order (conv → pool → GELU, conv → ReLU).
//
// Run apart, pool1 reads conv1's whole output back from memory (5.5 MB at batch 64) and GELU reads the
// pooled maps once more. Fused, both work on a block's tile in L1/L2, and a convolution followed by
// the pool computes only the outputs some window reads (an 11×11 map loses its last row and column).
// Every step is the kernel the separate layer runs (maxpool2x2, gelu, relu), on the same values in the
// same order: fused and separate give the same bits.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "parcnn/kernels/epilogue_record.hpp"
#include "parcnn/kernels/post_ops.hpp"

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

// One channel of a block, all but the element-wise post-ops. `tile` holds rows × cols outputs of a
// convolution (row-major, packed) before their bias, and is used as scratch; the biased, pooled values —
// rows/2 × cols/2 with the pool, else rows × cols — go to y with row stride ldy. bias: this channel's
// bias, or null. The element-wise post-ops are left to epilogue_elementwise, over every channel of the
// block at once: a 1×1 pooled map would otherwise pad each single value to a whole vector chunk of GELU.
// With `pos` (and the pool), each window's position too, laid out as y: in the convolution's output
// map, `map_w` wide, in which the tile's first value is at `origin` (maxpool2x2_positions).
template <class T>
void epilogue_bias_and_pool(const PostOps& e, T* tile, std::size_t rows, std::size_t cols, const T* bias, T* y,
                            std::size_t ldy, std::uint32_t* pos = nullptr, std::size_t map_w = 0,
                            std::size_t origin = 0) {
  if (bias) {
    const T b = *bias;
    for (std::size_t i = 0; i < rows * cols; ++i) tile[i] += b;
  }
  if (e.pools()) {
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

// The epilogue's element-wise post-ops, if any, from x to y (the same memory, or apart) over `channels`
// planes of `rows` × `cols` values of one image's output (plane stride `plane`, row stride ldy): one run
// when they are contiguous.
template <class T>
void epilogue_elementwise(const PostOps& e, const T* x, T* y, std::size_t channels, std::size_t plane,
                          std::size_t rows, std::size_t cols, std::size_t ldy) {
  if (!e.has_elementwise()) return;
  if (ldy == cols && plane == rows * cols) {
    apply_elementwise_post_ops(e, x, y, channels * plane);
    return;
  }
  for (std::size_t c = 0; c < channels; ++c)
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t at = c * plane + r * ldy;
      apply_elementwise_post_ops(e, x + at, y + at, cols);
    }
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
