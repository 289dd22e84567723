// parcnn/kernels/vec.hpp — the kernels' vectors: GCC and Clang vector extensions as wide as the pass's
// instruction set (PARCNN_TARGET_VECTOR_BYTES: 64 for AVX-512, 32 for AVX2, 16 for the baseline), so a
// vector is one register and passes in registers under every ABI; unaligned loads and stores, a
// partial copy that touches nothing past its end, and the short-row copy built on them.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET::detail {

template <class T>
struct Vec {
  static constexpr int bytes = PARCNN_TARGET_VECTOR_BYTES;
  static constexpr int lanes = int(bytes / sizeof(T));
  static constexpr int registers = PARCNN_TARGET_AVX512 ? 32 : 16;  // vector registers of the target
  typedef T type __attribute__((vector_size(bytes)));
  typedef decltype(type{} < type{}) mask;                                    // a comparison's: 0 or −1 per lane
  typedef std::uint32_t index __attribute__((vector_size(4 * (bytes / sizeof(T)))));  // a 32-bit index per lane
};

#if PARCNN_TARGET_AVX512
// Masks of every lane, for the zero-masked forms of max, unpack, shuffle and permute: GCC 12 warns
// (-Wuninitialized) about the "undefined" pass-through of their plain forms where AVX-512 is enabled by
// a target attribute rather than -mavx512f (GCC PR 105593); with every lane set, they are the same
// instructions.
inline constexpr __mmask16 every_lane16 = 0xFFFF;
inline constexpr __mmask8 every_lane8 = 0xFF;
#endif

template <class T>
inline typename Vec<T>::type load(const T* p) {
  typename Vec<T>::type v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
inline void store(T* p, const typename Vec<T>::type& v) {
  std::memcpy(p, &v, sizeof v);
}

// Copies n < Vec<T>::lanes elements, reading and writing nothing past n: with AVX-512 one masked load
// and store (slow on some cores: callers keep it for the rows that need it), else element by element.
template <class T>
inline void copy_partial(T* dst, const T* src, std::size_t n) {
#if PARCNN_TARGET_AVX512
  if constexpr (std::is_same_v<T, float>) {
    const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
    _mm512_mask_storeu_ps(dst, m, _mm512_maskz_loadu_ps(m, src));
    return;
  } else if constexpr (std::is_same_v<T, double>) {
    const __mmask8 m = static_cast<__mmask8>((1u << n) - 1);
    _mm512_mask_storeu_pd(dst, m, _mm512_maskz_loadu_pd(m, src));
    return;
  }
#endif
  for (std::size_t i = 0; i < n; ++i) dst[i] = src[i];
}

// Elements past n that copy_row may read and write when granted slack: at least a vector of any T.
inline constexpr std::size_t copy_row_slack = 16;
static_assert(Vec<float>::lanes <= int(copy_row_slack) && Vec<double>::lanes <= int(copy_row_slack));

// Copies n elements. The kernels copy many short rows (im2col's 3 to 26 elements in the letter CNN's
// layers, the padded rows' 28 in the small ResNet's); a call to memcpy for each cost more than the
// copying itself (a quarter of a forward pass at batch 64). Whole vectors, then the tail: a whole vector
// too where the caller grants `slack` (the source may be read on, and what lands past n in dst is
// overwritten later), else a partial copy.
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

}  // namespace parcnn::kernels::PARCNN_TARGET::detail
#endif  // PARCNN_TARGET
