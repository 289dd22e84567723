// parcnn/kernels/conv2d.hpp — 2-D convolution forward: im2col + GEMM over a block, and the plain-loop
// reference every test compares against.
//
// Weight [out_c, in_c, k_h, k_w] is, row-major, the GEMM's A = [out_c, K]. For a block of output
// channels [c0, c1) and output positions P: y[c0:c1, P] = A[c0:c1, :] · cols[:, P] + bias.
#pragma once

#include <cstddef>
#include <type_traits>

#include "parcnn/kernels/conv2d_geometry.hpp"
#include "parcnn/kernels/gemm.hpp"
#include "parcnn/kernels/im2col.hpp"
#include "parcnn/kernels/transpose.hpp"
#include "parcnn/parallel/index_space.hpp"

namespace parcnn::kernels {

// Scratch elements conv2d_forward_im2col needs for a block of `rows` × `cols` output positions.
template <class T>
std::size_t conv2d_im2col_scratch(const Conv2dGeometry& g, std::size_t channels, std::size_t rows, std::size_t cols) {
  const std::size_t positions = rows * cols;
  const bool full_rows = cols == g.out_w;
  return g.patch() * positions + (full_rows ? 0 : channels * positions) + gemm_scratch<T>(channels, g.patch());
}

namespace detail {
template <class T>
void add_bias(const T* bias, Range channels, std::size_t count, T* y, std::size_t ld) {
  if (!bias) return;
  for (std::size_t c = channels.begin; c < channels.end; ++c) {
    T* row = y + (c - channels.begin) * ld;
    const T b = bias[c];
    for (std::size_t i = 0; i < count; ++i) row[i] += b;
  }
}
}  // namespace detail

// Output channels `channels` × rows `rows` × columns `cols` of one image.
// x: the image [in_c, in_h, in_w]; y: its output [out_c, out_h, out_w]; bias may be null;
// scratch: conv2d_im2col_scratch<T>(g, channels.size(), rows.size(), cols.size()) elements.
template <class T>
void conv2d_forward_im2col(const T* x, const T* weight, const T* bias, const Conv2dGeometry& g, Range channels,
                           Range rows, Range cols, T* scratch, T* y) {
  const std::size_t K = g.patch();
  const std::size_t positions = rows.size() * cols.size();
  if (positions == 0 || channels.size() == 0) return;
  T* columns = scratch;
  im2col(x, g, rows, cols, columns, positions);
  const T* a = weight + channels.begin * K;
  const std::size_t P = g.positions();
  if (cols.size() == g.out_w) {  // whole output rows: the block's positions are contiguous in y
    T* out = y + channels.begin * P + rows.begin * g.out_w;
    gemm(channels.size(), positions, K, a, K, columns, positions, out, P, false, scratch + K * positions);
    detail::add_bias(bias, channels, positions, out, P);
    return;
  }
  T* tile = scratch + K * positions;  // [channels, positions], then scattered row by row into y
  gemm(channels.size(), positions, K, a, K, columns, positions, tile, positions, false,
       tile + channels.size() * positions);
  detail::add_bias(bias, channels, positions, tile, positions);
  for (std::size_t c = 0; c < channels.size(); ++c)
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const T* src = tile + c * positions + r * cols.size();
      T* dst = y + (channels.begin + c) * P + (rows.begin + r) * g.out_w + cols.begin;
      std::copy(src, src + cols.size(), dst);
    }
}

// Scratch elements conv2d_forward_stacked needs for `images` images and `channels` output channels.
template <class T>
std::size_t conv2d_stacked_scratch(const Conv2dGeometry& g, std::size_t channels, std::size_t images) {
  return (g.patch() + channels) * images * g.positions() + gemm_scratch<T>(channels, g.patch());
}

// Output channels `channels` of `images` consecutive images, with their columns side by side in one GEMM:
// cols = [K, images·P], out = W[channels]·cols, then each image's [channels, P] slice copied into y with
// its bias. Small feature maps (conv3's P = 9) give the GEMM enough columns this way; the bits are those
// of one image at a time, since every output is the same chain over k.
template <class T>
void conv2d_forward_stacked(const T* x, std::size_t images, const T* weight, const T* bias, const Conv2dGeometry& g,
                            Range channels, T* scratch, T* y) {
  const std::size_t K = g.patch(), P = g.positions(), cols = images * P;
  T* columns = scratch;
  T* out = scratch + K * cols;
  for (std::size_t i = 0; i < images; ++i)
    im2col(x + i * g.in_image(), g, Range{0, g.out_h}, Range{0, g.out_w}, columns + i * P, cols);
  gemm(channels.size(), cols, K, weight + channels.begin * K, K, columns, cols, out, cols, false,
       out + channels.size() * cols);
  for (std::size_t i = 0; i < images; ++i)
    for (std::size_t c = 0; c < channels.size(); ++c) {
      const T* src = out + c * cols + i * P;
      T* dst = y + i * g.out_image() + (channels.begin + c) * P;
      const T b = bias ? bias[channels.begin + c] : T(0);
      if (bias)
        for (std::size_t p = 0; p < P; ++p) dst[p] = src[p] + b;
      else
        std::copy(src, src + P, dst);
    }
}

// Output channels `channels` of one image from its complete columns [K, positions] (row stride ld),
// built once and shared by every channel block. scratch: gemm_scratch<T>(channels.size(), K) elements.
template <class T>
void conv2d_forward_columns(const T* columns, std::size_t ld, const T* weight, const T* bias, const Conv2dGeometry& g,
                            Range channels, T* scratch, T* y) {
  const std::size_t K = g.patch(), P = g.positions();
  if (channels.size() == 0) return;
  T* out = y + channels.begin * P;
  gemm(channels.size(), P, K, weight + channels.begin * K, K, columns, ld, out, P, false, scratch);
  detail::add_bias(bias, channels, P, out, P);
}

// Scratch elements conv2d_backward needs for `images` images.
template <class T>
std::size_t conv2d_backward_scratch(const Conv2dGeometry& g, std::size_t images) {
  const std::size_t cols = images * g.positions();
  return (2 * g.patch() + g.out_c) * cols + std::max(gemm_scratch<T>(g.out_c, cols), gemm_scratch<T>(g.patch(), g.out_c));
}

// Backward of `images` consecutive images of one gradient chunk, their positions side by side
// (cols = [K, images·P]). Adds their weight gradient into dweight [out_c, K] and bias gradient into dbias
// (if not null); writes their input gradients into dx (if not null):
//   dW += dY · colsᵀ      dcols = Wᵀ · dY      dx = col2im(dcols)
// Each gradient element is one chain over images, then positions, in order: the bits are those of one
// image at a time, and do not depend on how many images run together.
template <class T>
void conv2d_backward(const T* x, std::size_t images, const T* weight, const T* dy, const Conv2dGeometry& g, T* dweight,
                     T* dbias, T* dx, T* scratch) {
  const std::size_t K = g.patch(), P = g.positions(), cols = images * P;
  T* columns = scratch;
  T* columns_t = scratch + K * cols;
  T* dy_cols = scratch + 2 * K * cols;  // dY as [out_c, images·P]
  T* pad = dy_cols + g.out_c * cols;
  for (std::size_t i = 0; i < images; ++i) {
    im2col(x + i * g.in_image(), g, Range{0, g.out_h}, Range{0, g.out_w}, columns + i * P, cols);
    for (std::size_t co = 0; co < g.out_c; ++co)
      std::copy(dy + i * g.out_image() + co * P, dy + i * g.out_image() + (co + 1) * P, dy_cols + co * cols + i * P);
  }
  transpose(columns, K, cols, columns_t);
  gemm(g.out_c, K, cols, dy_cols, cols, columns_t, K, dweight, K, /*accumulate=*/true, pad);
  if (dbias)
    for (std::size_t co = 0; co < g.out_c; ++co) {
      T sum = dbias[co];
      for (std::size_t p = 0; p < cols; ++p) sum += dy_cols[co * cols + p];
      dbias[co] = sum;
    }
  if (!dx) return;
  gemm_strided(K, cols, g.out_c, weight, std::size_t{1}, K, dy_cols, cols, columns, cols, false, pad);  // Wᵀ · dY
  for (std::size_t i = 0; i < images; ++i) col2im(columns + i * P, cols, g, dx + i * g.in_image());
}

// The oracle: direct loops over a whole batch of `batch` images, accumulating in a wider type.
template <class T>
void conv2d_forward_reference(const T* x, const T* weight, const T* bias, const Conv2dGeometry& g, std::size_t batch,
                              T* y) {
  using Acc = std::conditional_t<std::is_same_v<T, float>, double, long double>;
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t co = 0; co < g.out_c; ++co)
      for (std::size_t oh = 0; oh < g.out_h; ++oh)
        for (std::size_t ow = 0; ow < g.out_w; ++ow) {
          Acc sum = bias ? Acc(bias[co]) : Acc(0);
          for (std::size_t ci = 0; ci < g.in_c; ++ci)
            for (std::size_t ky = 0; ky < g.k_h; ++ky)
              for (std::size_t kx = 0; kx < g.k_w; ++kx) {
                const std::ptrdiff_t ih = std::ptrdiff_t(oh * g.stride_h + ky) - std::ptrdiff_t(g.pad_h);
                const std::ptrdiff_t iw = std::ptrdiff_t(ow * g.stride_w + kx) - std::ptrdiff_t(g.pad_w);
                if (ih < 0 || iw < 0 || ih >= std::ptrdiff_t(g.in_h) || iw >= std::ptrdiff_t(g.in_w)) continue;
                sum += Acc(x[((n * g.in_c + ci) * g.in_h + std::size_t(ih)) * g.in_w + std::size_t(iw)]) *
                       Acc(weight[((co * g.in_c + ci) * g.k_h + ky) * g.k_w + kx]);
              }
          y[((n * g.out_c + co) * g.out_h + oh) * g.out_w + ow] = T(sum);
        }
}

}  // namespace parcnn::kernels
