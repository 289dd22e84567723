// parcnn/kernels/transpose.hpp — out = aᵀ for a row-major matrix.
#pragma once

#include <cstddef>

namespace parcnn::kernels {

// a is [rows, cols] row-major; out is [cols, rows] row-major.
template <class T>
void transpose(const T* a, std::size_t rows, std::size_t cols, T* out) {
  constexpr std::size_t tile = 16;  // blocks of 16×16 keep both sides in cache lines
  for (std::size_t i0 = 0; i0 < rows; i0 += tile)
    for (std::size_t j0 = 0; j0 < cols; j0 += tile)
      for (std::size_t i = i0; i < rows && i < i0 + tile; ++i)
        for (std::size_t j = j0; j < cols && j < j0 + tile; ++j) out[j * rows + i] = a[i * cols + j];
}

}  // namespace parcnn::kernels
