// parcnn/kernels/maxpool2d.hpp — 2-D max pooling over a block of one image, and its reference.
//
// A NaN anywhere in a window makes that output NaN (as in PyTorch); ties keep the first value in
// window order, so the kernel and the reference agree to the bit.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "parcnn/kernels/conv2d_geometry.hpp"
#include "parcnn/parallel/index_space.hpp"

namespace parcnn::kernels {

namespace detail {
// max(a, b), the first on ties: one compare-and-select (vmaxss / vmaxps) with no branch. A branch on
// the comparison of random activations mispredicts half the time and made pooling 20× slower.
// NaNs are tracked apart, by the callers.
template <class T>
inline T plain_max(T a, T b) {
  return a < b ? b : a;
}

template <class T>
T pool_window(const T* plane, const Conv2dGeometry& g, std::size_t oh, std::size_t ow) {
  T m = -std::numeric_limits<T>::infinity();
  bool nan = false;
  const std::ptrdiff_t h0 = std::ptrdiff_t(oh * g.stride_h) - std::ptrdiff_t(g.pad_h);
  const std::ptrdiff_t w0 = std::ptrdiff_t(ow * g.stride_w) - std::ptrdiff_t(g.pad_w);
  for (std::ptrdiff_t ih = std::max<std::ptrdiff_t>(h0, 0);
       ih < std::min<std::ptrdiff_t>(h0 + std::ptrdiff_t(g.k_h), std::ptrdiff_t(g.in_h)); ++ih)
    for (std::ptrdiff_t iw = std::max<std::ptrdiff_t>(w0, 0);
         iw < std::min<std::ptrdiff_t>(w0 + std::ptrdiff_t(g.k_w), std::ptrdiff_t(g.in_w)); ++iw) {
      const T v = plane[std::size_t(ih) * g.in_w + std::size_t(iw)];
      m = plain_max(m, v);
      nan |= v != v;
    }
  return nan ? std::numeric_limits<T>::quiet_NaN() : m;
}
}  // namespace detail

// Channels × rows × cols of one image's output. x: [c, in_h, in_w]; y: [c, out_h, out_w].
template <class T>
void maxpool2d_forward(const T* x, const Conv2dGeometry& g, Range channels, Range rows, Range cols, T* y) {
  const bool fast_2x2 = g.k_h == 2 && g.k_w == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 &&
                        g.pad_w == 0 && 2 * g.out_h <= g.in_h && 2 * g.out_w <= g.in_w;
  for (std::size_t c = channels.begin; c < channels.end; ++c) {
    const T* plane = x + c * g.in_h * g.in_w;
    T* out = y + c * g.out_h * g.out_w;
    for (std::size_t oh = rows.begin; oh < rows.end; ++oh) {
      if (fast_2x2) {  // every window inside the image: no bounds to check
        const T* r0 = plane + 2 * oh * g.in_w;
        const T* r1 = r0 + g.in_w;
        for (std::size_t ow = cols.begin; ow < cols.end; ++ow) {
          const T a = r0[2 * ow], b = r0[2 * ow + 1], c2 = r1[2 * ow], d = r1[2 * ow + 1];
          const T m = detail::plain_max(detail::plain_max(a, b), detail::plain_max(c2, d));
          const bool nan = (a != a) | (b != b) | (c2 != c2) | (d != d);
          out[oh * g.out_w + ow] = nan ? std::numeric_limits<T>::quiet_NaN() : m;
        }
      } else {
        for (std::size_t ow = cols.begin; ow < cols.end; ++ow) out[oh * g.out_w + ow] = detail::pool_window(plane, g, oh, ow);
      }
    }
  }
}

// Backward of one image: each output's gradient goes to the input it took its value from — the first
// maximum of its window in window order, or the first NaN. Overlapping windows add up, in output order.
// x: [c, in_h, in_w]; dy: [c, out_h, out_w]; dx: [c, in_h, in_w], overwritten.
template <class T>
void maxpool2d_backward(const T* x, const T* dy, const Conv2dGeometry& g, T* dx) {
  std::fill_n(dx, g.in_image(), T(0));
  for (std::size_t c = 0; c < g.in_c; ++c) {
    const T* plane = x + c * g.in_h * g.in_w;
    T* grad = dx + c * g.in_h * g.in_w;
    for (std::size_t oh = 0; oh < g.out_h; ++oh)
      for (std::size_t ow = 0; ow < g.out_w; ++ow) {
        const std::ptrdiff_t h0 = std::ptrdiff_t(oh * g.stride_h) - std::ptrdiff_t(g.pad_h);
        const std::ptrdiff_t w0 = std::ptrdiff_t(ow * g.stride_w) - std::ptrdiff_t(g.pad_w);
        std::size_t best = 0;
        T m = -std::numeric_limits<T>::infinity();
        bool found = false, nan = false;
        for (std::ptrdiff_t ih = std::max<std::ptrdiff_t>(h0, 0);
             ih < std::min<std::ptrdiff_t>(h0 + std::ptrdiff_t(g.k_h), std::ptrdiff_t(g.in_h)) && !nan; ++ih)
          for (std::ptrdiff_t iw = std::max<std::ptrdiff_t>(w0, 0);
               iw < std::min<std::ptrdiff_t>(w0 + std::ptrdiff_t(g.k_w), std::ptrdiff_t(g.in_w)); ++iw) {
            const std::size_t at = std::size_t(ih) * g.in_w + std::size_t(iw);
            const T v = plane[at];
            if (v != v) {
              best = at, nan = true;
              break;
            }
            if (!found || v > m) best = at, m = v, found = true;
          }
        grad[best] += dy[c * g.out_h * g.out_w + oh * g.out_w + ow];
      }
  }
}

// The oracle: a whole batch, every window scanned with explicit bounds checks.
template <class T>
void maxpool2d_forward_reference(const T* x, const Conv2dGeometry& g, std::size_t batch, T* y) {
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t c = 0; c < g.in_c; ++c)
      for (std::size_t oh = 0; oh < g.out_h; ++oh)
        for (std::size_t ow = 0; ow < g.out_w; ++ow) {
          bool any_nan = false;
          T m = -std::numeric_limits<T>::infinity();
          for (std::size_t ky = 0; ky < g.k_h; ++ky)
            for (std::size_t kx = 0; kx < g.k_w; ++kx) {
              const std::ptrdiff_t ih = std::ptrdiff_t(oh * g.stride_h + ky) - std::ptrdiff_t(g.pad_h);
              const std::ptrdiff_t iw = std::ptrdiff_t(ow * g.stride_w + kx) - std::ptrdiff_t(g.pad_w);
              if (ih < 0 || iw < 0 || ih >= std::ptrdiff_t(g.in_h) || iw >= std::ptrdiff_t(g.in_w)) continue;
              const T v = x[((n * g.in_c + c) * g.in_h + std::size_t(ih)) * g.in_w + std::size_t(iw)];
              any_nan |= std::isnan(v);
              if (v > m) m = v;
            }
          y[((n * g.out_c + c) * g.out_h + oh) * g.out_w + ow] = any_nan ? std::numeric_limits<T>::quiet_NaN() : m;
        }
}

}  // namespace parcnn::kernels
