// parcnn/kernels/im2col.hpp — the columns of an im2col convolution, for any block of output positions.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "parcnn/kernels/conv2d_geometry.hpp"
#include "parcnn/core/range.hpp"

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

namespace detail {
// The input column of output column 0 for kernel column kx: kx·dil − pad.
inline std::ptrdiff_t column_shift(const Conv2dGeometry& g, std::size_t kx) {
  return std::ptrdiff_t(kx * g.dil_w) - std::ptrdiff_t(g.pad_w);
}
// The input row of output row oh for kernel row ky: oh·stride + ky·dil − pad.
inline std::ptrdiff_t input_row(const Conv2dGeometry& g, std::size_t oh, std::size_t ky) {
  return std::ptrdiff_t(oh * g.stride_h + ky * g.dil_h) - std::ptrdiff_t(g.pad_h);
}
// The output columns within `cols` whose input column ow·stride + kx·dil − pad lies inside the image,
// for kernel column kx: im2col copies them, col2im adds them back, and the rest read or add zero padding.
inline Range columns_inside(const Conv2dGeometry& g, std::size_t kx, Range cols) {
  const std::ptrdiff_t shift = column_shift(g, kx), s = std::ptrdiff_t(g.stride_w);
  const std::ptrdiff_t lo = shift >= 0 ? 0 : (-shift + s - 1) / s;
  const std::ptrdiff_t hi = std::ptrdiff_t(g.in_w) - shift <= 0 ? 0 : (std::ptrdiff_t(g.in_w) - shift + s - 1) / s;
  const std::ptrdiff_t begin = std::clamp<std::ptrdiff_t>(lo, std::ptrdiff_t(cols.begin), std::ptrdiff_t(cols.end));
  return Range{std::size_t(begin), std::size_t(std::clamp<std::ptrdiff_t>(hi, begin, std::ptrdiff_t(cols.end)))};
}
}  // namespace detail

// The vectors per k-row that im2col writes a whole vector at a time (its short-row path, float with
// AVX-512, stride 1, no padding) for a block of `rows` × `bw` output positions, or 0 where it copies
// row by row: rows of more than 16 values, more than 64 vectors, or vectors whose 16 positions span
// more than 32 inputs (at most n − 1 + ⌊(bw + n − 2) / bw⌋ · (in_w − bw) for n = min(16, positions)).
template <class T>
std::size_t im2col_short_row_vectors(const Conv2dGeometry& g, std::size_t rows, std::size_t bw) {
#if PARCNN_TARGET_AVX512
  const std::size_t P = rows * bw, n = std::min<std::size_t>(16, P), vectors = (P + 15) / 16;
  if (!std::is_same_v<T, float> || g.stride_h != 1 || g.stride_w != 1 || g.pad_h != 0 || g.pad_w != 0 ||
      g.dilated() || bw == 0 || bw > 16 || vectors > 64 || bw > g.in_w)
    return 0;
  const std::size_t span = n - 1 + (bw + n - 2) / bw * (g.in_w - bw);
  return span <= 31 ? vectors : 0;
#else
  (void)g, (void)rows, (void)bw;
  return 0;
#endif
}

namespace detail {
#if PARCNN_TARGET_AVX512
// Stride 1, no padding, rows of at most `short_row` values (conv2 of the letter CNN: 10 or 11): each
// k-row of the patch matrix is built a whole vector at a time, each vector permuted out of the 32 input
// values from its first position's (vpermt2ps), instead of one short copy per output row. The index of
// output position p into the input is (p / bw)·in_w + p % bw (plus the k-row's own start) whatever the
// k-row, so the permutations are worked out once per call. Where im2col_short_row_vectors says so.
struct ShortRowIm2col {
  static constexpr std::size_t max_vectors = 64;

  static void run(const float* image, const Conv2dGeometry& g, Range rows, Range cols, float* cols_out,
                  std::size_t ld) {
    const std::size_t bw = cols.size(), P = rows.size() * bw, vectors = (P + 15) / 16;
    alignas(64) std::int32_t index[max_vectors][16];
    std::size_t start[max_vectors];
    __mmask16 low[max_vectors], high[max_vectors];  // the lanes of the 2 × 16 inputs each vector reads
    std::size_t r = 0, c = 0;
    for (std::size_t j = 0; j < vectors; ++j) {
      start[j] = r * g.in_w + c;
      std::size_t last = 0;  // the last input read, from start[j]
      for (std::size_t l = 0; l < 16; ++l) {
        std::size_t at = start[j];  // lanes past P read the first input
        if (j * 16 + l < P) {
          at = r * g.in_w + c;
          if (++c == bw) c = 0, ++r;
        }
        last = std::max(last, at - start[j]);  // at most 31 (im2col_short_row_vectors)
        index[j][l] = std::int32_t(at - start[j]);
      }
      low[j] = static_cast<__mmask16>(last >= 15 ? 0xFFFFu : (1u << (last + 1)) - 1);
      high[j] = static_cast<__mmask16>(last >= 16 ? (1u << (last - 15)) - 1 : 0);
    }
    const __mmask16 tail = static_cast<__mmask16>(P % 16 ? (1u << (P % 16)) - 1 : 0xFFFFu);
    // Each input row (ci, ky) feeds the k_w k-rows of its kernel row: a vector's permutation and
    // masks serve all k_w of them, and each k-row is still written front to back (down the k-rows
    // instead, the stores of a stack of images stride through L2 and conv2 ran 40 % slower).
    // The geometry in locals: the stores below may alias anything (as in im2col_row_vectors).
    const std::size_t in_c = g.in_c, in_h = g.in_h, in_w = g.in_w, k_h = g.k_h, k_w = g.k_w;
    for (std::size_t ci = 0; ci < in_c; ++ci)
      for (std::size_t ky = 0; ky < k_h; ++ky) {
        const float* row = image + (ci * in_h + rows.begin + ky) * in_w + cols.begin;
        float* out = cols_out + (ci * k_h + ky) * k_w * ld;
        for (std::size_t j = 0; j < vectors; ++j) {
          const __m512i perm = _mm512_load_si512(index[j]);
          const __mmask16 lo = low[j], hi = high[j];
          const bool whole = j + 1 < vectors || tail == 0xFFFFu;  // else a masked store, slower
          // Loads masked to the inputs from the vector's first to its last: all of them exist, and
          // nothing past the image is touched.
          const float* src = row + start[j];
          for (std::size_t kx = 0; kx < k_w; ++kx) {
            const __m512 a = _mm512_maskz_loadu_ps(lo, src + kx), b = _mm512_maskz_loadu_ps(hi, src + kx + 16);
            const __m512 v = _mm512_permutex2var_ps(a, perm, b);
            float* dst = out + kx * ld + 16 * j;
            if (whole)
              _mm512_storeu_ps(dst, v);
            else
              _mm512_mask_storeu_ps(dst, tail, v);
          }
        }
      }
  }
};
#endif
}  // namespace detail

namespace detail {
#if PARCNN_TARGET_AVX512
// At stride 2, lane l of a row reads (or adds to) element 2·l: the masks of elements 0-15 and 16-31 of
// the lanes set in `lanes`, every other one.
inline void even_lane_masks(unsigned lanes, __mmask16& low, __mmask16& high) {
  unsigned lo = 0, hi = 0;
  for (unsigned l = 0; l < 8; ++l) lo |= (lanes >> l & 1u) << (2 * l), hi |= (lanes >> (l + 8) & 1u) << (2 * l);
  low = static_cast<__mmask16>(lo), high = static_cast<__mmask16>(hi);
}

// One k-row (ky, kx) of a block whose rows are at most 16 values, at stride 1 or 2, padded or dilated
// or not: each output row one masked load (at stride 2 two, their even lanes permuted into one vector),
// the columns that fall into the padding masked to zero, one store. Masked lanes read nothing, so the
// rows at the image's edges need no bounds; the general loop copied these rows a value at a time at
// stride 2 and spent more on zero fills and bookkeeping than on copying at stride 1.
inline void im2col_row_vectors(const float* plane, const Conv2dGeometry& g, Range rows, Range cols, std::size_t ky,
                               std::size_t kx, float* out) {
  const std::size_t bw = cols.size();
  const std::ptrdiff_t shift = column_shift(g, kx), s = std::ptrdiff_t(g.stride_w);
  const Range inside = columns_inside(g, kx, cols);
  const auto below = [](std::size_t n) { return (1u << n) - 1; };
  const unsigned lanes = below(inside.end - cols.begin) & ~below(inside.begin - cols.begin);  // inside the image
  __mmask16 low = static_cast<__mmask16>(lanes), high = 0;  // at stride 2: the two vectors of inputs
  if (s == 2) even_lane_masks(lanes, low, high);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __mmask16 row_mask = static_cast<__mmask16>(below(bw));
  // The geometry in locals: the stores below may alias anything, and g's fields would be read again
  // for every row.
  const std::ptrdiff_t in_h = std::ptrdiff_t(g.in_h), in_w = std::ptrdiff_t(g.in_w), step = std::ptrdiff_t(g.stride_h);
  const std::ptrdiff_t first_column = std::ptrdiff_t(cols.begin) * s + shift;
  std::ptrdiff_t ih = input_row(g, rows.begin, ky);
  for (std::size_t oh = rows.begin; oh < rows.end; ++oh, out += bw, ih += step) {
    __m512 v = _mm512_setzero_ps();
    if (ih >= 0 && ih < in_h) {
      // Lane l's input: column (cols.begin + l)·s + shift of row ih (masked off where it is padding).
      const float* from = plane + (ih * in_w + first_column);
      if (s == 1)
        v = _mm512_maskz_loadu_ps(low, from);
      else
        v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(low, from), even, _mm512_maskz_loadu_ps(high, from + 16));
    }
    // A whole vector where what lands past the row belongs to this k-row's later rows (written after it).
    if ((rows.end - oh) * bw >= 16)
      _mm512_storeu_ps(out, v);
    else
      _mm512_mask_storeu_ps(out, row_mask, v);
  }
}
#endif
}  // namespace detail

// Writes the patch matrix of output rows `rows` × output columns `cols` of one image:
// cols_out[k][p] with k = (ci·k_h + ky)·k_w + kx (the weight's inner order) and p running over the
// block's positions row by row. cols_out has row stride `ld` (at least rows.size()·cols.size()).
// Positions that fall into the zero padding read as 0. One group's columns (g.groups = 1): callers pass
// the group's geometry (Conv2dGeometry::group) and its first input channel.
template <class T>
void im2col(const T* image, const Conv2dGeometry& g, Range rows, Range cols, T* cols_out, std::size_t ld) {
  const std::size_t bw = cols.size();
  const T* image_end = image + g.in_c * g.in_h * g.in_w;
  if (g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0 && !g.dilated() && bw > 0 &&
      rows.size() > 0) {
#if PARCNN_TARGET_AVX512
    if constexpr (std::is_same_v<T, float>)
      if (im2col_short_row_vectors<T>(g, rows.size(), bw) > 0) {
        detail::ShortRowIm2col::run(image, g, rows, cols, cols_out, ld);
        return;
      }
#endif
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
#if PARCNN_TARGET_AVX512
        if constexpr (std::is_same_v<T, float>)
          if (bw <= 16 && (g.stride_w == 1 || g.stride_w == 2)) {
            detail::im2col_row_vectors(plane, g, rows, cols, ky, kx, out);
            continue;
          }
#endif
        const std::ptrdiff_t shift = detail::column_shift(g, kx);
        const std::ptrdiff_t s = std::ptrdiff_t(g.stride_w);
        const Range inside = detail::columns_inside(g, kx, cols);
        const std::ptrdiff_t lo = std::ptrdiff_t(inside.begin), hi = std::ptrdiff_t(inside.end);
        for (std::size_t oh = rows.begin; oh < rows.end; ++oh, out += bw) {
          const std::ptrdiff_t ih = detail::input_row(g, oh, ky);
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
namespace detail {
// to[i] += from[i] for i < n: one addition per element, so the same bits however it is vectorised. With
// AVX-512, floats 16 at a time and the rest masked: col2im's rows are short (11 values for conv2 of the
// letter CNN, 3 for conv3), and a compiled loop ran them mostly in its scalar remainder.
template <class T>
inline void add_row(T* to, const T* from, std::size_t n) {
#if PARCNN_TARGET_AVX512
  if constexpr (std::is_same_v<T, float>) {
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(to + i, _mm512_add_ps(_mm512_loadu_ps(to + i), _mm512_loadu_ps(from + i)));
    if (i < n) {
      const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
      _mm512_mask_storeu_ps(to + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, to + i), _mm512_maskz_loadu_ps(m, from + i)));
    }
    return;
  }
#endif
  for (std::size_t i = 0; i < n; ++i) to[i] += from[i];
}

#if PARCNN_TARGET_AVX512
// to[2·i] += from[i] for i in [lo, hi) ⊆ [0, 16): the row of a stride-2 k-row (16 values or fewer) added
// into every other input column, the values spread to the even lanes of two vectors by a permutation;
// the odd lanes, and columns outside [lo, hi), are neither read nor written. One addition per element,
// as the loop it replaces.
inline void add_row_stride2(float* to, const float* from, std::ptrdiff_t lo, std::ptrdiff_t hi) {
  if (hi <= lo) return;
  const unsigned lanes = ((1u << hi) - 1) & ~((1u << lo) - 1);
  __mmask16 ml, mh;
  even_lane_masks(lanes, ml, mh);
  const __m512i spread_low = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m512i spread_high = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  const __m512 v = _mm512_maskz_loadu_ps(static_cast<__mmask16>(lanes), from);
  if (ml)
    _mm512_mask_storeu_ps(to, ml, _mm512_add_ps(_mm512_maskz_loadu_ps(ml, to), _mm512_maskz_permutexvar_ps(ml, spread_low, v)));
  if (mh)
    _mm512_mask_storeu_ps(to + 16, mh,
                          _mm512_add_ps(_mm512_maskz_loadu_ps(mh, to + 16), _mm512_maskz_permutexvar_ps(mh, spread_high, v)));
}

// col2im for image rows of at most 32 values whose k-rows hold at most 16 (col2im_short_rows_fit: every
// convolution of the small ResNet, conv2 and conv3 of the letter CNN): each image row is one or two
// registers, summed from zero and stored once: for each kernel row ky that reads it (at most one output
// row each), the k_w segments that land in it are loaded, moved to their columns by a permutation fixed
// per kx (for any stride and dilation) and added under the mask of those columns. No zero fill and no
// load of the image; adding straight into memory, each k-row's masked store and the next one's load of
// the same row stalled on store forwarding. Each element gets the same additions in the same order as
// in col2im (ky, then kx), starting from +0 as col2im's zeroed image does.
inline bool col2im_short_rows_fit(const Conv2dGeometry& g) { return g.in_w <= 32 && g.out_w <= 16 && g.k_w <= 16; }

inline void col2im_short_rows(const float* cols, std::size_t ld, const Conv2dGeometry& g, float* image) {
  __m512i index[2][16];  // [half of the image row][kx]: the k-row's lane each column takes
  __mmask16 load[16], add[2][16];
  for (std::size_t kx = 0; kx < g.k_w; ++kx) {
    const Range inside = columns_inside(g, kx, Range{0, g.out_w});
    const std::ptrdiff_t shift = column_shift(g, kx), s = std::ptrdiff_t(g.stride_w);
    load[kx] = static_cast<__mmask16>(((1u << inside.end) - 1) & ~((1u << inside.begin) - 1));
    for (std::size_t half = 0; half < 2; ++half) {
      alignas(64) std::int32_t lanes[16] = {};
      unsigned mask = 0;
      for (std::ptrdiff_t l = 0; l < 16; ++l) {
        const std::ptrdiff_t column = std::ptrdiff_t(16 * half) + l - shift;  // = ow · stride where it is a column
        if (column < 0 || column % s != 0) continue;
        const std::ptrdiff_t ow = column / s;
        if (ow < std::ptrdiff_t(inside.begin) || ow >= std::ptrdiff_t(inside.end)) continue;
        lanes[l] = std::int32_t(ow), mask |= 1u << l;
      }
      index[half][kx] = _mm512_load_si512(lanes);
      add[half][kx] = static_cast<__mmask16>(mask);
    }
  }
  const bool two = g.in_w > 16;
  const __mmask16 row[2] = {static_cast<__mmask16>((1u << std::min<std::size_t>(g.in_w, 16)) - 1),
                            static_cast<__mmask16>(two ? (1u << (g.in_w - 16)) - 1 : 0)};
  // The geometry in locals: the stores below may alias anything, and g's fields would be read again
  // for every row.
  const std::size_t in_c = g.in_c, in_h = g.in_h, in_w = g.in_w, k_h = g.k_h, k_w = g.k_w, out_h = g.out_h,
                    out_w = g.out_w, pad_h = g.pad_h, dil_h = g.dil_h, stride_h = g.stride_h;
  for (std::size_t ci = 0; ci < in_c; ++ci)
    for (std::size_t ih = 0; ih < in_h; ++ih) {  // each image row written once, from zero
      __m512 low = _mm512_setzero_ps(), high = _mm512_setzero_ps();
      for (std::size_t ky = 0; ky < k_h; ++ky) {  // the output row oh whose kernel row ky reads ih, if any
        const std::ptrdiff_t at = std::ptrdiff_t(ih + pad_h) - std::ptrdiff_t(ky * dil_h);
        if (at < 0 || std::size_t(at) % stride_h != 0) continue;
        const std::size_t oh = std::size_t(at) / stride_h;
        if (oh >= out_h) continue;
        const float* k_rows = cols + (ci * k_h + ky) * k_w * ld + oh * out_w;
        for (std::size_t kx = 0; kx < k_w; ++kx) {
          const __m512 v = _mm512_maskz_loadu_ps(load[kx], k_rows + kx * ld);
          low = _mm512_mask_add_ps(low, add[0][kx], low, _mm512_maskz_permutexvar_ps(detail::every_lane16, index[0][kx], v));
          if (two)
            high = _mm512_mask_add_ps(high, add[1][kx], high, _mm512_maskz_permutexvar_ps(detail::every_lane16, index[1][kx], v));
        }
      }
      float* dst = image + (ci * in_h + ih) * in_w;
      _mm512_mask_storeu_ps(dst, row[0], low);
      if (two) _mm512_mask_storeu_ps(dst + 16, row[1], high);
    }
}
#endif
}  // namespace detail

// cols is [K, positions] with row stride ld; image [in_c, in_h, in_w] is overwritten. Entries are added
// in a fixed order (k, then position), so the result does not depend on who calls it. Each k-row's
// output columns that land inside the image are worked out once (detail::columns_inside, as in im2col),
// so the inner loop adds a row segment without bounds (at stride 1 vectorised, detail::add_row).
template <class T>
void col2im(const T* cols, std::size_t ld, const Conv2dGeometry& g, T* image) {
#if PARCNN_TARGET_AVX512
  if constexpr (std::is_same_v<T, float>)
    if (detail::col2im_short_rows_fit(g)) {
      detail::col2im_short_rows(cols, ld, g, image);
      return;
    }
#endif
  std::fill_n(image, g.in_image(), T(0));
  const std::ptrdiff_t s = std::ptrdiff_t(g.stride_w);
  for (std::size_t ci = 0; ci < g.in_c; ++ci) {
    T* plane = image + ci * g.in_h * g.in_w;
    for (std::size_t ky = 0; ky < g.k_h; ++ky)
      for (std::size_t kx = 0; kx < g.k_w; ++kx) {
        const T* row = cols + ((ci * g.k_h + ky) * g.k_w + kx) * ld;
        const std::ptrdiff_t shift = detail::column_shift(g, kx);
        const Range inside = detail::columns_inside(g, kx, Range{0, g.out_w});
        const std::ptrdiff_t lo = std::ptrdiff_t(inside.begin), hi = std::ptrdiff_t(inside.end);
        for (std::size_t oh = 0; oh < g.out_h; ++oh) {
          const std::ptrdiff_t ih = detail::input_row(g, oh, ky);
          if (ih < 0 || ih >= std::ptrdiff_t(g.in_h)) continue;
          T* dst = plane + std::size_t(ih) * g.in_w;
          const T* src = row + oh * g.out_w;
          if (s == 1) {
            if (hi > lo) detail::add_row(dst + (lo + shift), src + lo, std::size_t(hi - lo));
            continue;
          }
#if PARCNN_TARGET_AVX512
          if constexpr (std::is_same_v<T, float>)
            if (s == 2 && g.out_w <= 16) {
              detail::add_row_stride2(dst + shift, src, lo, hi);
              continue;
            }
#endif
          for (std::ptrdiff_t ow = lo; ow < hi; ++ow) dst[ow * s + shift] += src[ow];
        }
      }
  }
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
