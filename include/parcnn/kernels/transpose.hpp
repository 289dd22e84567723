// parcnn/kernels/transpose.hpp — out = aᵀ for a row-major matrix.
//
// A convolution's backward pass transposes its columns once per stack of images (conv2 of the letter
// CNN: 288 × 968 values per chunk of 8 images). Element by element that was most of the kernel's own
// time in a training step; with AVX-512 16 × 16 float tiles go through registers instead.

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

namespace detail {
#if PARCNN_TARGET_AVX512
// One tile of m × n ≤ 16 × 16: a (row stride lda) to out (row stride ldo), transposed; rows past m
// load as zeros, and only the n × m elements of out are stored. Three rounds of shuffles:
// pairs of rows interleaved by 32 then 64 bits, which leaves in s[4i + c] the column 4L + c of rows
// 4i..4i+3 in its 128-bit lane L; then each group s[c], s[4 + c], s[8 + c], s[12 + c] is a 4 × 4
// transpose of 128-bit lanes, whose lane L is output row 4L + c.
inline void transpose_tile(const float* a, std::size_t lda, float* out, std::size_t ldo, std::size_t m,
                           std::size_t n) {
  const __mmask16 load = static_cast<__mmask16>((1u << n) - 1), store = static_cast<__mmask16>((1u << m) - 1);
  __m512 r[16], t[16];
  for (std::size_t i = 0; i < 16; ++i) r[i] = i < m ? _mm512_maskz_loadu_ps(load, a + i * lda) : _mm512_setzero_ps();
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_maskz_unpacklo_ps(detail::every_lane16, r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_maskz_unpackhi_ps(detail::every_lane16, r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    r[4 * i] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(detail::every_lane8, _mm512_castps_pd(t[4 * i]), _mm512_castps_pd(t[4 * i + 2])));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(detail::every_lane8, _mm512_castps_pd(t[4 * i]), _mm512_castps_pd(t[4 * i + 2])));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(detail::every_lane8, _mm512_castps_pd(t[4 * i + 1]), _mm512_castps_pd(t[4 * i + 3])));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(detail::every_lane8, _mm512_castps_pd(t[4 * i + 1]), _mm512_castps_pd(t[4 * i + 3])));
  }
  __m512 o[16];
  for (int c = 0; c < 4; ++c) {
    const __m512 u0 = _mm512_maskz_shuffle_f32x4(detail::every_lane16, r[c], r[4 + c], 0x44), u1 = _mm512_maskz_shuffle_f32x4(detail::every_lane16, r[c], r[4 + c], 0xEE);
    const __m512 u2 = _mm512_maskz_shuffle_f32x4(detail::every_lane16, r[8 + c], r[12 + c], 0x44);
    const __m512 u3 = _mm512_maskz_shuffle_f32x4(detail::every_lane16, r[8 + c], r[12 + c], 0xEE);
    o[0 + c] = _mm512_maskz_shuffle_f32x4(detail::every_lane16, u0, u2, 0x88);
    o[4 + c] = _mm512_maskz_shuffle_f32x4(detail::every_lane16, u0, u2, 0xDD);
    o[8 + c] = _mm512_maskz_shuffle_f32x4(detail::every_lane16, u1, u3, 0x88);
    o[12 + c] = _mm512_maskz_shuffle_f32x4(detail::every_lane16, u1, u3, 0xDD);
  }
  if (m == 16)
    for (std::size_t j = 0; j < n; ++j) _mm512_storeu_ps(out + j * ldo, o[j]);
  else
    for (std::size_t j = 0; j < n; ++j) _mm512_mask_storeu_ps(out + j * ldo, store, o[j]);
}
#endif
}  // namespace detail

// a is [rows, cols] row-major; out is [cols, rows] row-major. In tiles of 16 × 16, which keep both sides
// in cache lines: float tiles through AVX-512 registers where it is on (the edges masked), else element
// by element.
template <class T>
void transpose(const T* a, std::size_t rows, std::size_t cols, T* out) {
  constexpr std::size_t tile = 16;
  for (std::size_t i0 = 0; i0 < rows; i0 += tile)
    for (std::size_t j0 = 0; j0 < cols; j0 += tile) {
#if PARCNN_TARGET_AVX512
      if constexpr (std::is_same_v<T, float>) {
        detail::transpose_tile(a + i0 * cols + j0, cols, out + j0 * rows + i0, rows, std::min(tile, rows - i0),
                               std::min(tile, cols - j0));
        continue;
      }
#endif
      for (std::size_t i = i0; i < rows && i < i0 + tile; ++i)
        for (std::size_t j = j0; j < cols && j < j0 + tile; ++j) out[j * rows + i] = a[i * cols + j];
    }
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
