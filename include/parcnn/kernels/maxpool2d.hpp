// parcnn/kernels/maxpool2d.hpp — 2-D max pooling over a block of one image, and its reference.
//
// A NaN anywhere in a window makes that output NaN (as in PyTorch); ties keep the first value in
// window order, so the kernel and the reference agree to the bit.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "parcnn/kernels/conv2d_geometry.hpp"
#include "parcnn/core/range.hpp"

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

namespace detail {
// max(a, b), the first on ties: one compare-and-select (vmaxss / vmaxps) with no branch. A branch on
// the comparison of random activations mispredicts half the time and made pooling 20× slower.
// NaNs are tracked apart, by the callers.
template <class T>
inline T plain_max(T a, T b) {
  return a < b ? b : a;
}

// One 2×2 window a, b (first row), c, d (second row): as the vector path computes it.
template <class T>
inline T max_of_window(T a, T b, T c, T d) {
  const T m = plain_max(plain_max(a, b), plain_max(c, d));
  const bool nan = (a != a) | (b != b) | (c != c) | (d != d);
  return nan ? std::numeric_limits<T>::quiet_NaN() : m;
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

#if PARCNN_TARGET_AVX512
// n outputs of 2×2, stride-2 windows over input rows r0 and r1, 16 at a time: each row's 32 inputs
// split into even and odd lanes by one permute each, then the same compare-and-selects in the same
// window order as plain_max (vmaxps(b, a) is exactly `a < b ? b : a`), NaNs tracked apart. Loads are
// masked to the inputs that exist; the last store is masked too unless `slack` says that up to 16
// outputs past n may be written (they are written again later).
inline void pool2x2_row(const float* r0, const float* r1, float* out, std::size_t n, bool slack) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512 nan = _mm512_set1_ps(std::numeric_limits<float>::quiet_NaN());
  auto first = [](std::size_t count) {
    return static_cast<__mmask16>(count >= 16 ? 0xFFFFu : (1u << count) - 1);
  };
  for (std::size_t i = 0; i < n; i += 16) {
    const std::size_t m = std::min<std::size_t>(16, n - i);
    const __mmask16 lo = first(2 * m), hi = first(2 * m > 16 ? 2 * m - 16 : 0);
    const __m512 a0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * i), a1 = _mm512_maskz_loadu_ps(hi, r0 + 2 * i + 16);
    const __m512 b0 = _mm512_maskz_loadu_ps(lo, r1 + 2 * i), b1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * i + 16);
    const __m512 a = _mm512_permutex2var_ps(a0, even, a1), b = _mm512_permutex2var_ps(a0, odd, a1);
    const __m512 c = _mm512_permutex2var_ps(b0, even, b1), d = _mm512_permutex2var_ps(b0, odd, b1);
    // plain_max(plain_max(a, b), plain_max(c, d)), as the scalar path computes it.
    const __m512 m_ab = _mm512_maskz_max_ps(detail::every_lane16, b, a), m_cd = _mm512_maskz_max_ps(detail::every_lane16, d, c);
    __m512 v = _mm512_maskz_max_ps(detail::every_lane16, m_cd, m_ab);
    const __mmask16 any_nan = _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(c, d, _CMP_UNORD_Q);
    v = _mm512_mask_blend_ps(any_nan, v, nan);
    if (m == 16 || slack)
      _mm512_storeu_ps(out + i, v);
    else
      _mm512_mask_storeu_ps(out + i, first(m), v);
  }
}
#endif
}  // namespace detail

// 2×2 windows, stride 2, every window inside the input: rows_out × cols_out outputs from the
// 2·rows_out × 2·cols_out inputs at src (row stride ld_src), written to dst (row stride ld_dst). Used by
// MaxPool2d and by a convolution's fused epilogue (kernels/epilogue.hpp): the same code, the same bits.
template <class T>
void maxpool2x2(const T* src, std::size_t ld_src, std::size_t rows_out, std::size_t cols_out, T* dst,
                std::size_t ld_dst) {
  for (std::size_t r = 0; r < rows_out; ++r) {
    const T* r0 = src + 2 * r * ld_src;
    const T* r1 = r0 + ld_src;
    T* out = dst + r * ld_dst;
#if PARCNN_TARGET_AVX512
    if constexpr (std::is_same_v<T, float>) {
      // Slack: with packed rows, what spills past this row lands in the next rows, written after it.
      const bool slack = ld_dst == cols_out && (rows_out - 1 - r) * cols_out >= 16;
      detail::pool2x2_row(r0, r1, out, cols_out, slack);
      continue;
    }
#endif
    for (std::size_t ow = 0; ow < cols_out; ++ow)
      out[ow] = detail::max_of_window(r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]);
  }
}

// Whether the pool is 2×2 windows at stride 2 with every window inside the input: maxpool2x2's case.
inline bool is_pool_2x2(const Conv2dGeometry& g) {
  return g.k_h == 2 && g.k_w == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 && g.pad_w == 0 &&
         2 * g.out_h <= g.in_h && 2 * g.out_w <= g.in_w;
}

// Channels × rows × cols of one image's output. x: [c, in_h, in_w]; y: [c, out_h, out_w].
template <class T>
void maxpool2d_forward(const T* x, const Conv2dGeometry& g, Range channels, Range rows, Range cols, T* y) {
  const bool fast_2x2 = is_pool_2x2(g);
  for (std::size_t c = channels.begin; c < channels.end; ++c) {
    const T* plane = x + c * g.in_h * g.in_w;
    T* out = y + c * g.out_h * g.out_w;
    if (fast_2x2 && g.out_h == 1 && g.out_w == 1) {  // one window (pool3 of the letter CNN): no vectors
      *out = detail::max_of_window(plane[0], plane[1], plane[g.in_w], plane[g.in_w + 1]);
      continue;
    }
    if (fast_2x2) {  // every window inside the image: no bounds to check
      maxpool2x2(plane + 2 * rows.begin * g.in_w + 2 * cols.begin, g.in_w, rows.size(), cols.size(),
                 out + rows.begin * g.out_w + cols.begin, g.out_w);
      continue;
    }
    for (std::size_t oh = rows.begin; oh < rows.end; ++oh)
      for (std::size_t ow = cols.begin; ow < cols.end; ++ow) out[oh * g.out_w + ow] = detail::pool_window(plane, g, oh, ow);
  }
}

// The backward oracle: `batch` images, every window scanned with explicit bounds checks; each output's
// gradient added, in output order, to the first NaN of its window or else its first maximum.
template <class T>
void maxpool2d_backward_reference(const T* x, const T* dy, const Conv2dGeometry& g, std::size_t batch, T* dx) {
  std::fill_n(dx, batch * g.in_image(), T(0));
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t c = 0; c < g.in_c; ++c) {
      const T* plane = x + (n * g.in_c + c) * g.in_h * g.in_w;
      T* grad = dx + (n * g.in_c + c) * g.in_h * g.in_w;
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
          grad[best] += dy[((n * g.in_c + c) * g.out_h + oh) * g.out_w + ow];
        }
    }
}

namespace detail {
// Which of a 2×2 window's a, b (first row), c, d (second row) took the output's value: the first NaN in
// window order, else the first maximum.
// Selects, not branches: a branch on comparisons of random activations mispredicts half the time.
template <class T>
inline int window_choice(T a, T b, T c, T d) {
  int k = 0;
  T m = a;
  const bool gt_b = b > m;
  k = gt_b ? 1 : k, m = gt_b ? b : m;
  const bool gt_c = c > m;
  k = gt_c ? 2 : k, m = gt_c ? c : m;
  k = d > m ? 3 : k;
  const bool na = a != a, nb = b != b, nc = c != c, nd = d != d;
  const int first_nan = na ? 0 : nb ? 1 : nc ? 2 : 3;
  return (na | nb | nc | nd) ? first_nan : k;
}
}  // namespace detail

#if PARCNN_TARGET_AVX512
namespace detail {
// The first `count` lanes of 16 (all for 16 or more).
inline __mmask16 pool_lanes(std::size_t count) {
  return static_cast<__mmask16>(count >= 16 ? 0xFFFFu : (1u << count) - 1);
}

// window_choice of m ≤ 16 consecutive 2×2 windows over rows r0 and r1 (reading 2m values of each), as
// four disjoint lane masks: the windows whose value is their a (r0[2i]), b (r0[2i + 1]), c (r1[2i]) or d.
struct WindowChoice {
  __mmask16 a, b, c, d;
};

// The four values of m ≤ 16 consecutive 2×2 windows over rows r0 and r1 (reading 2m values of each;
// lanes past m hold zeros): a = r0[2i], b = r0[2i + 1], c = r1[2i], d = r1[2i + 1].
struct Windows16 {
  __m512 a, b, c, d;
};
inline Windows16 windows_16(const float* r0, const float* r1, std::size_t m) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __mmask16 lo = pool_lanes(2 * m), hi = pool_lanes(2 * m > 16 ? 2 * m - 16 : 0);
  const __m512 a0 = _mm512_maskz_loadu_ps(lo, r0), a1 = _mm512_maskz_loadu_ps(hi, r0 + 16);
  const __m512 b0 = _mm512_maskz_loadu_ps(lo, r1), b1 = _mm512_maskz_loadu_ps(hi, r1 + 16);
  return Windows16{_mm512_permutex2var_ps(a0, even, a1), _mm512_permutex2var_ps(a0, odd, a1),
                   _mm512_permutex2var_ps(b0, even, b1), _mm512_permutex2var_ps(b0, odd, b1)};
}

inline WindowChoice window_choice_16(const float* r0, const float* r1, std::size_t m) {
  const auto [a, b, c, d] = windows_16(r0, r1, m);
  // The first maximum: b, c, d each taken only when strictly greater than the best so far.
  const __mmask16 gt_b = _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ);
  const __m512 ab = _mm512_mask_blend_ps(gt_b, a, b);
  const __mmask16 gt_c = _mm512_cmp_ps_mask(c, ab, _CMP_GT_OQ);
  const __m512 abc = _mm512_mask_blend_ps(gt_c, ab, c);
  const __mmask16 gt_d = _mm512_cmp_ps_mask(d, abc, _CMP_GT_OQ);
  const __mmask16 max_d = gt_d, max_c = gt_c & ~gt_d, max_b = gt_b & ~gt_c & ~gt_d;
  const __mmask16 max_a = static_cast<__mmask16>(~(gt_b | gt_c | gt_d));
  // Else the first NaN.
  const __mmask16 na = _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), nb = _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q);
  const __mmask16 nc = _mm512_cmp_ps_mask(c, c, _CMP_UNORD_Q), nd = _mm512_cmp_ps_mask(d, d, _CMP_UNORD_Q);
  const __mmask16 any = na | nb | nc | nd;
  return WindowChoice{static_cast<__mmask16>((any & na) | (~any & max_a)),
                      static_cast<__mmask16>((any & nb & ~na) | (~any & max_b)),
                      static_cast<__mmask16>((any & nc & ~(na | nb)) | (~any & max_c)),
                      static_cast<__mmask16>((any & nd & ~(na | nb | nc)) | (~any & max_d))};
}

// Backward of n windows over input rows r0 and r1, 16 at a time: g holds their outputs' gradients, and
// every one of their 2n inputs in d0 and d1 is written (0 + the gradient where window_choice points, 0
// elsewhere). window_choice_16 gives the windows' choices as masks; two permutes per row interleave
// the four results back. (The forward pool keeps its own copy of the split: one inline helper returning
// the four vectors made it 8-15 % slower, through code generation.)
inline void pool2x2_backward_row(const float* r0, const float* r1, const float* g, float* d0, float* d1,
                                 std::size_t n) {
  const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512 zero = _mm512_setzero_ps();
  for (std::size_t i = 0; i < n; i += 16) {
    const std::size_t m = std::min<std::size_t>(16, n - i);
    const __mmask16 lo = pool_lanes(2 * m), hi = pool_lanes(2 * m > 16 ? 2 * m - 16 : 0);
    const WindowChoice choice = window_choice_16(r0 + 2 * i, r1 + 2 * i, m);
    const __mmask16 to_a = choice.a, to_b = choice.b, to_c = choice.c, to_d = choice.d;
    const __m512 gv = _mm512_maskz_loadu_ps(pool_lanes(m), g + i);
    const __m512 ga = _mm512_maskz_add_ps(to_a, zero, gv), gb = _mm512_maskz_add_ps(to_b, zero, gv);
    const __m512 gc = _mm512_maskz_add_ps(to_c, zero, gv), gd = _mm512_maskz_add_ps(to_d, zero, gv);
    const __m512 row0_lo = _mm512_permutex2var_ps(ga, low, gb), row0_hi = _mm512_permutex2var_ps(ga, high, gb);
    const __m512 row1_lo = _mm512_permutex2var_ps(gc, low, gd), row1_hi = _mm512_permutex2var_ps(gc, high, gd);
    if (m == 16) {
      _mm512_storeu_ps(d0 + 2 * i, row0_lo), _mm512_storeu_ps(d0 + 2 * i + 16, row0_hi);
      _mm512_storeu_ps(d1 + 2 * i, row1_lo), _mm512_storeu_ps(d1 + 2 * i + 16, row1_hi);
    } else {
      _mm512_mask_storeu_ps(d0 + 2 * i, lo, row0_lo), _mm512_mask_storeu_ps(d0 + 2 * i + 16, hi, row0_hi);
      _mm512_mask_storeu_ps(d1 + 2 * i, lo, row1_lo), _mm512_mask_storeu_ps(d1 + 2 * i + 16, hi, row1_hi);
    }
  }
}
}  // namespace detail
#endif

// For each of the eh × ew 2×2 windows (stride 2) over a map with rows of `width`: the position in the
// map of the value the window took (detail::window_choice: the first NaN, else the first maximum), row
// by row into pos — where its gradient goes in the backward pass — and, when `out` is not null, the
// window's value into out (rows of ew), the bits of maxpool2x2's: one pass for both. Positions count
// rows of `number_width` from `origin` (a block of a larger map: its first value's position there);
// by default the map's own.
// With AVX-512, 16 windows at a time: the first maximum by three compares, and window_choice itself
// for any 16 that hold a NaN.
template <class T>
void maxpool2x2_positions(const T* map, std::size_t width, std::size_t eh, std::size_t ew, std::uint32_t* pos,
                          T* out = nullptr, std::size_t number_width = 0, std::size_t origin = 0) {
  const std::size_t nw = number_width ? number_width : width;
  for (std::size_t oh = 0; oh < eh; ++oh) {
    const T* r0 = map + 2 * oh * width;
    std::uint32_t* p = pos + oh * ew;
    T* o = out ? out + oh * ew : nullptr;
    std::size_t ow = 0;
#if PARCNN_TARGET_AVX512
    if constexpr (std::is_same_v<T, float>) {
      const __m512i twice = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      const __m512i one = _mm512_set1_epi32(1), down = _mm512_set1_epi32(int(nw));
      const __m512i down_one = _mm512_set1_epi32(int(nw + 1));
      for (; ow < ew; ow += 16) {
        const std::size_t m = std::min<std::size_t>(16, ew - ow);
        const auto [a, b, c, d] = detail::windows_16(r0 + 2 * ow, r0 + width + 2 * ow, m);
        const __m512 sum = _mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d));
        if (_mm512_cmp_ps_mask(sum, sum, _CMP_UNORD_Q)) break;  // a NaN among them (lanes past m read 0)
        const __mmask16 gt_b = _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ);
        const __m512 ab = _mm512_mask_blend_ps(gt_b, a, b);
        const __mmask16 gt_c = _mm512_cmp_ps_mask(c, ab, _CMP_GT_OQ);
        const __m512 abc = _mm512_mask_blend_ps(gt_c, ab, c);
        const __mmask16 gt_d = _mm512_cmp_ps_mask(d, abc, _CMP_GT_OQ);
        __m512i off = _mm512_maskz_mov_epi32(gt_b, one);
        off = _mm512_mask_mov_epi32(off, gt_c, down);
        off = _mm512_mask_mov_epi32(off, gt_d, down_one);
        // Window i of these 16 starts at 2i.
        const __m512i at =
            _mm512_add_epi32(_mm512_add_epi32(_mm512_set1_epi32(int(origin + 2 * oh * nw + 2 * ow)), twice), off);
        _mm512_mask_storeu_epi32(p + ow, detail::pool_lanes(m), at);
        if (o)  // as pool2x2_row, whose NaN case never comes here
          _mm512_mask_storeu_ps(o + ow, detail::pool_lanes(m), _mm512_maskz_max_ps(detail::every_lane16, _mm512_maskz_max_ps(detail::every_lane16, d, c), _mm512_maskz_max_ps(detail::every_lane16, b, a)));
      }
    }
#endif
    for (; ow < ew; ++ow) {
      const T* w = r0 + 2 * ow;
      const int k = detail::window_choice(w[0], w[1], w[width], w[width + 1]);
      p[ow] = std::uint32_t(origin + 2 * oh * nw + 2 * ow + std::size_t(k >> 1) * nw + std::size_t(k & 1));
      if (o) o[ow] = detail::max_of_window(w[0], w[1], w[width], w[width + 1]);
    }
  }
}

// Backward of one image: each output's gradient goes to the input it took its value from — the first
// maximum of its window in window order, or the first NaN. Overlapping windows add up, in output order.
// x: [c, in_h, in_w]; dy: [c, out_h, out_w]; dx: [c, in_h, in_w], overwritten. 2×2 windows at stride 2
// (the letter CNN's) write every input once, without bounds and, for rows of 4 windows or more, 16
// windows at a time; the bits are maxpool2d_backward_reference's.
template <class T>
void maxpool2d_backward(const T* x, const T* dy, const Conv2dGeometry& g, T* dx) {
  const bool fast_2x2 = g.k_h == 2 && g.k_w == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 &&
                        g.pad_w == 0 && 2 * g.out_h <= g.in_h && 2 * g.out_w <= g.in_w;
  if (!fast_2x2) {
    maxpool2d_backward_reference(x, dy, g, 1, dx);
    return;
  }
  const std::size_t covered = 2 * g.out_w;  // the columns some window reads
  for (std::size_t c = 0; c < g.in_c; ++c) {
    for (std::size_t oh = 0; oh < g.out_h; ++oh) {
      const T* r0 = x + (c * g.in_h + 2 * oh) * g.in_w;
      const T* r1 = r0 + g.in_w;
      T* d0 = dx + (c * g.in_h + 2 * oh) * g.in_w;
      T* d1 = d0 + g.in_w;
      const T* grad = dy + (c * g.out_h + oh) * g.out_w;
      std::fill(d0 + covered, d0 + g.in_w, T(0));
      std::fill(d1 + covered, d1 + g.in_w, T(0));
#if PARCNN_TARGET_AVX512
      if constexpr (std::is_same_v<T, float>)
        if (g.out_w >= 4) {
          detail::pool2x2_backward_row(r0, r1, grad, d0, d1, g.out_w);
          continue;
        }
#endif
      for (std::size_t ow = 0; ow < g.out_w; ++ow) {
        const std::size_t i = 2 * ow;
        const int k = detail::window_choice(r0[i], r0[i + 1], r1[i], r1[i + 1]);
        const T v = T(0) + grad[ow];  // as the reference adds it to a zeroed gradient
        d0[i] = k == 0 ? v : T(0), d0[i + 1] = k == 1 ? v : T(0);
        d1[i] = k == 2 ? v : T(0), d1[i + 1] = k == 3 ? v : T(0);
      }
    }
    std::fill(dx + (c * g.in_h + 2 * g.out_h) * g.in_w, dx + (c + 1) * g.in_h * g.in_w, T(0));  // rows no window reads
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

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
