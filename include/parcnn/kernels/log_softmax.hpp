// parcnn/kernels/log_softmax.hpp — numerically stable log-softmax over rows, and its reference.
//
// log_softmax(x)_i = (x_i − m) − log Σ_j exp(x_j − m), m = max_j x_j: every exp is at most 1, so no
// row overflows however large its values, and x_i − m is formed before the (small) log-sum is taken
// off, so it is not rounded to the precision of m. A NaN in a row makes the whole row NaN.

#include <cmath>
#include <cstddef>
#include <limits>

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

// Rows [r0, r1) of a row-major [rows, cols] matrix.
template <class T>
void log_softmax_rows(const T* x, std::size_t cols, std::size_t r0, std::size_t r1, T* y) {
  for (std::size_t r = r0; r < r1; ++r) {
    const T* in = x + r * cols;
    T* out = y + r * cols;
    T m = -std::numeric_limits<T>::infinity();  // a NaN never wins a comparison: it reaches the output
    for (std::size_t j = 0; j < cols; ++j) m = m < in[j] ? in[j] : m;  // through in[j] − m and the sum
    T sum = 0;
    for (std::size_t j = 0; j < cols; ++j) sum += std::exp(in[j] - m);
    const T log_sum = std::log(sum);
    for (std::size_t j = 0; j < cols; ++j) out[j] = (in[j] - m) - log_sum;
  }
}

// Backward over rows [r0, r1): dx = dy − softmax(x) · Σ_j dy_j, with softmax(x) = exp(y).
template <class T>
void log_softmax_backward_rows(const T* y, const T* dy, std::size_t cols, std::size_t r0, std::size_t r1, T* dx) {
  for (std::size_t r = r0; r < r1; ++r) {
    T sum = 0;
    for (std::size_t j = 0; j < cols; ++j) sum += dy[r * cols + j];
    for (std::size_t j = 0; j < cols; ++j) dx[r * cols + j] = dy[r * cols + j] - std::exp(y[r * cols + j]) * sum;
  }
}

// The oracle: log(exp(x_i) / Σ exp(x_j)) evaluated in long double with the same max shift.
template <class T>
void log_softmax_reference(const T* x, std::size_t rows, std::size_t cols, T* y) {
  for (std::size_t r = 0; r < rows; ++r) {
    long double m = -std::numeric_limits<long double>::infinity();
    for (std::size_t j = 0; j < cols; ++j) m = std::max<long double>(m, x[r * cols + j]);
    long double sum = 0;
    for (std::size_t j = 0; j < cols; ++j) sum += std::exp((long double)x[r * cols + j] - m);
    for (std::size_t j = 0; j < cols; ++j) y[r * cols + j] = T(std::log(std::exp((long double)x[r * cols + j] - m) / sum));
  }
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
