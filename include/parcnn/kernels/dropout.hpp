// parcnn/kernels/dropout.hpp — dropout over a span: each value kept with probability 1 − p and scaled by
// 1 / (1 − p), or zeroed, by a counter-based draw.
//
// Whether element `index` (its place in the whole tensor) is dropped depends on (key, index) alone — a
// SplitMix64 hash, not a generator's sequence — so any cut of the tensor draws the same mask, and the
// backward pass draws it again instead of storing it.

#include <cstddef>
#include <cstdint>

#include "parcnn/core/random.hpp"

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

// Whether element `index` is kept under `key` with drop probability p.
inline bool dropout_keeps(std::uint64_t key, std::uint64_t index, double p) {
  return double(mix_seed(key, index) >> 11) * 0x1.0p-53 >= p;
}

// y[i] = x[i]·scale where element first + i is kept, else 0; scale = 1 / (1 − p).
template <class T>
void dropout(std::uint64_t key, double p, T scale, std::size_t first, const T* x, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = dropout_keeps(key, first + i, p) ? x[i] * scale : T(0);
}

// The backward pass: dx[i] = dy[i]·scale where element first + i was kept, else 0.
template <class T>
void dropout_backward(std::uint64_t key, double p, T scale, std::size_t first, const T* dy, T* dx, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = dropout_keeps(key, first + i, p) ? dy[i] * scale : T(0);
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
