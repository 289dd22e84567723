// parcnn/kernels/softmax.hpp — numerically stable softmax over rows, and its backward pass.
//
// softmax(x)_i = exp(x_i − m) / Σ_j exp(x_j − m), m = max_j x_j: no exp overflows. A NaN in a row makes
// the whole row NaN. Each row is summed in order: the same bits whatever the cut.

#include <cmath>
#include <cstddef>
#include <limits>

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

// Rows [r0, r1) of a row-major [rows, cols] matrix.
template <class T>
void softmax_rows(const T* x, std::size_t cols, std::size_t r0, std::size_t r1, T* y) {
  for (std::size_t r = r0; r < r1; ++r) {
    const T* in = x + r * cols;
    T* out = y + r * cols;
    T m = -std::numeric_limits<T>::infinity();  // a NaN never wins a comparison: it reaches the sum
    for (std::size_t j = 0; j < cols; ++j) m = m < in[j] ? in[j] : m;
    T sum = 0;
    for (std::size_t j = 0; j < cols; ++j) sum += out[j] = std::exp(in[j] - m);
    for (std::size_t j = 0; j < cols; ++j) out[j] /= sum;
  }
}

// Backward over rows [r0, r1) from the output y: dx = y ⊙ (dy − Σ_j dy_j·y_j).
template <class T>
void softmax_backward_rows(const T* y, const T* dy, std::size_t cols, std::size_t r0, std::size_t r1, T* dx) {
  for (std::size_t r = r0; r < r1; ++r) {
    const T *yr = y + r * cols, *dyr = dy + r * cols;
    T dot = 0;
    for (std::size_t j = 0; j < cols; ++j) dot += dyr[j] * yr[j];
    for (std::size_t j = 0; j < cols; ++j) dx[r * cols + j] = yr[j] * (dyr[j] - dot);
  }
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
