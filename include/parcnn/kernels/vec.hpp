// parcnn/kernels/vec.hpp — the kernels' 64-byte vectors: GCC and Clang vector extensions (AVX-512
// where enabled, otherwise lowered to narrower registers by the compiler), unaligned loads and stores,
// and a partial copy that touches nothing past its end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace parcnn::kernels::detail {

template <class T>
struct Vec {
  static constexpr int lanes = int(64 / sizeof(T));
  typedef T type __attribute__((vector_size(64)));
  typedef decltype(type{} < type{}) mask;                                    // a comparison's: 0 or −1 per lane
  typedef std::uint32_t index __attribute__((vector_size(4 * (64 / sizeof(T)))));  // a 32-bit index per lane
};

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
#if defined(__AVX512F__)
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

}  // namespace parcnn::kernels::detail
