// parcnn/kernels/im2col.hpp — the columns of an im2col convolution, for any block of output positions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "parcnn/kernels/conv2d_geometry.hpp"
#include "parcnn/parallel/index_space.hpp"

namespace parcnn::kernels {

// Writes the patch matrix of output rows `rows` × output columns `cols` of one image:
// cols_out[k][p] with k = (ci·k_h + ky)·k_w + kx (the weight's inner order) and p running over the
// block's positions row by row. cols_out has row stride `ld` (at least rows.size()·cols.size()).
// Positions that fall into the zero padding read as 0.
template <class T>
void im2col(const T* image, const Conv2dGeometry& g, Range rows, Range cols, T* cols_out, std::size_t ld) {
  const std::size_t bw = cols.size();
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
            if (hi > lo) std::memcpy(dst + lo, src + (lo + shift), std::size_t(hi - lo) * sizeof(T));
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
