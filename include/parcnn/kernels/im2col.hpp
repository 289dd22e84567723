// parcnn/kernels/im2col.hpp — the columns of an im2col convolution, for any block of output positions.
#pragma once

#include <algorithm>
#include <cstddef>

#include "parcnn/kernels/conv2d_geometry.hpp"
#include "parcnn/kernels/vec.hpp"
#include "parcnn/parallel/index_space.hpp"

namespace parcnn::kernels {

namespace detail {
// Elements past n that copy_row may read and write when granted slack: at least a vector of any T.
inline constexpr std::size_t copy_row_slack = 16;
static_assert(Vec<float>::lanes <= int(copy_row_slack) && Vec<double>::lanes <= int(copy_row_slack));

// Copies n elements. im2col copies many short rows (3 to 26 elements in the letter CNN's layers); a call
// to memcpy for each cost more than the copying itself (a quarter of a forward pass at batch 64).
// Whole vectors, then the tail: a whole vector too where the caller grants `slack` (the source may be
// read on, and what lands past n in dst is overwritten later), else a partial copy.
template <class T>
inline void copy_row(T* dst, const T* src, std::size_t n, bool slack) {
  constexpr std::size_t L = Vec<T>::lanes;
  std::size_t i = 0;
  for (; i + L <= n; i += L) store(dst + i, load(src + i));
  if (i == n) return;
  if (slack)
    store(dst + i, load(src + i));
  else
    copy_partial(dst + i, src + i, n - i);
}
}  // namespace detail

// Writes the patch matrix of output rows `rows` × output columns `cols` of one image:
// cols_out[k][p] with k = (ci·k_h + ky)·k_w + kx (the weight's inner order) and p running over the
// block's positions row by row. cols_out has row stride `ld` (at least rows.size()·cols.size()).
// Positions that fall into the zero padding read as 0.
template <class T>
void im2col(const T* image, const Conv2dGeometry& g, Range rows, Range cols, T* cols_out, std::size_t ld) {
  const std::size_t bw = cols.size();
  const T* image_end = image + g.in_c * g.in_h * g.in_w;
  if (g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0 && bw > 0 && rows.size() > 0) {
    // Stride 1, no padding (the letter CNN's convolutions): every k-row is rows.size() plain copies of
    // bw elements, all but the last with slack. The general loop below spends more on its bookkeeping
    // per row than on copying these short rows.
    const std::size_t last = rows.size() - 1;
    for (std::size_t ci = 0; ci < g.in_c; ++ci)
      for (std::size_t ky = 0; ky < g.k_h; ++ky)
        for (std::size_t kx = 0; kx < g.k_w; ++kx) {
          T* out = cols_out + ((ci * g.k_h + ky) * g.k_w + kx) * ld;
          const T* src = image + (ci * g.in_h + rows.begin + ky) * g.in_w + cols.begin + kx;
          // Rows whose source may be read a vector past their end: all if the image reaches that far.
          const bool src_slack = std::size_t(image_end - (src + last * g.in_w)) >= bw + detail::copy_row_slack;
          // Row r's slack lands in rows r + 1 .. last of this k, written after it: it must not reach past them.
          std::size_t r = 0;
          if (src_slack)
            for (; r + 1 < rows.size() && (last - r) * bw >= detail::copy_row_slack; ++r)
              detail::copy_row(out + r * bw, src + r * g.in_w, bw, true);
          for (; r < rows.size(); ++r) detail::copy_row(out + r * bw, src + r * g.in_w, bw, false);
        }
    return;
  }
  for (std::size_t ci = 0; ci < g.in_c; ++ci) {
    const T* plane = image + ci * g.in_h * g.in_w;
    for (std::size_t ky = 0; ky < g.k_h; ++ky) {
      for (std::size_t kx = 0; kx < g.k_w; ++kx) {
        T* out = cols_out + ((ci * g.k_h + ky) * g.k_w + kx) * ld;
        // Output columns whose input column ow·s + kx − pad lies inside the image: [lo, hi).
        const std::ptrdiff_t shift = std::ptrdiff_t(kx) - std::ptrdiff_t(g.pad_w);
        const std::ptrdiff_t s = std::ptrdiff_t(g.stride_w);
        std::ptrdiff_t lo = shift >= 0 ? 0 : (-shift + s - 1) / s;
        std::ptrdiff_t hi = std::ptrdiff_t(g.in_w) - shift <= 0 ? 0 : (std::ptrdiff_t(g.in_w) - shift + s - 1) / s;
        lo = std::clamp<std::ptrdiff_t>(lo, std::ptrdiff_t(cols.begin), std::ptrdiff_t(cols.end));
        hi = std::clamp<std::ptrdiff_t>(hi, lo, std::ptrdiff_t(cols.end));
        for (std::size_t oh = rows.begin; oh < rows.end; ++oh, out += bw) {
          const std::ptrdiff_t ih = std::ptrdiff_t(oh * g.stride_h + ky) - std::ptrdiff_t(g.pad_h);
          if (ih < 0 || ih >= std::ptrdiff_t(g.in_h)) {
            std::fill_n(out, bw, T(0));
            continue;
          }
          const T* src = plane + std::size_t(ih) * g.in_w;
          T* dst = out - cols.begin;  // dst[ow] for ow in cols
          for (std::ptrdiff_t ow = std::ptrdiff_t(cols.begin); ow < lo; ++ow) dst[ow] = T(0);
          if (s == 1) {
            // Slack: what lands past this row's copy belongs to the rest of this row and the next rows of
            // the same k, all written after it — if they reach that far; and the source may be read on
            // if the image goes on that far.
            const T* from = src + (lo + shift);
            const std::size_t n = std::size_t(hi - lo) + detail::copy_row_slack;
            const bool slack = (rows.end - oh) * bw - std::size_t(lo - std::ptrdiff_t(cols.begin)) >= n &&
                               std::size_t(image_end - from) >= n;
            if (hi > lo) detail::copy_row(dst + lo, from, std::size_t(hi - lo), slack);
          } else {
            for (std::ptrdiff_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * s + shift];
          }
          for (std::ptrdiff_t ow = hi; ow < std::ptrdiff_t(cols.end); ++ow) dst[ow] = T(0);
        }
      }
    }
  }
}

// The adjoint of im2col over a whole image: image = Σ over the columns' entries of where each came from.
// cols is [K, positions] with row stride ld; image [in_c, in_h, in_w] is overwritten. Entries are added
// in a fixed order (k, then position), so the result does not depend on who calls it.
template <class T>
void col2im(const T* cols, std::size_t ld, const Conv2dGeometry& g, T* image) {
  std::fill_n(image, g.in_image(), T(0));
  const std::size_t P = ld;
  for (std::size_t ci = 0; ci < g.in_c; ++ci) {
    T* plane = image + ci * g.in_h * g.in_w;
    for (std::size_t ky = 0; ky < g.k_h; ++ky)
      for (std::size_t kx = 0; kx < g.k_w; ++kx) {
        const T* row = cols + ((ci * g.k_h + ky) * g.k_w + kx) * P;
        for (std::size_t oh = 0; oh < g.out_h; ++oh) {
          const std::ptrdiff_t ih = std::ptrdiff_t(oh * g.stride_h + ky) - std::ptrdiff_t(g.pad_h);
          if (ih < 0 || ih >= std::ptrdiff_t(g.in_h)) continue;
          for (std::size_t ow = 0; ow < g.out_w; ++ow) {
            const std::ptrdiff_t iw = std::ptrdiff_t(ow * g.stride_w + kx) - std::ptrdiff_t(g.pad_w);
            if (iw < 0 || iw >= std::ptrdiff_t(g.in_w)) continue;
            plane[std::size_t(ih) * g.in_w + std::size_t(iw)] += row[oh * g.out_w + ow];
          }
        }
      }
  }
}

}  // namespace parcnn::kernels
