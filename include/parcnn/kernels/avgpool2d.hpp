// parcnn/kernels/avgpool2d.hpp — average pooling (fixed or adaptive windows, kernels/pool_windows.hpp)
// over one image, and its backward pass.
//
// Each output is its window's sum, in row-major order, divided by the window's divisor: the same bits
// whatever the cut. A window that reads no input (none arises from a layer's checked sizes) gives 0.

#include <cstddef>

#include "parcnn/core/range.hpp"
#include "parcnn/kernels/pool_windows.hpp"

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

// Outputs [channels] × [rows] × [cols] of one image x [C, rows.in, cols.in] into y [C, rows.out, cols.out].
template <class T>
void avgpool2d_forward(const T* x, const PoolWindows& rows, const PoolWindows& cols, Range channels, Range out_rows,
                       Range out_cols, T* y) {
  for (std::size_t c = channels.begin; c < channels.end; ++c) {
    const T* plane = x + c * rows.in * cols.in;
    for (std::size_t oh = out_rows.begin; oh < out_rows.end; ++oh) {
      const PoolWindow r = rows[oh];
      for (std::size_t ow = out_cols.begin; ow < out_cols.end; ++ow) {
        const PoolWindow q = cols[ow];
        T sum = 0;
        for (std::size_t h = r.begin; h < r.end; ++h)
          for (std::size_t w = q.begin; w < q.end; ++w) sum += plane[h * cols.in + w];
        y[(c * rows.out + oh) * cols.out + ow] = sum / T(r.divisor * q.divisor);
      }
    }
  }
}

// dx [C, rows.in, cols.in] of one image from dy [C, rows.out, cols.out]: each output's gradient over its
// divisor, added to every input of its window, outputs in row-major order.
template <class T>
void avgpool2d_backward(const T* dy, const PoolWindows& rows, const PoolWindows& cols, std::size_t channels, T* dx) {
  for (std::size_t i = 0; i < channels * rows.in * cols.in; ++i) dx[i] = T(0);
  for (std::size_t c = 0; c < channels; ++c) {
    T* plane = dx + c * rows.in * cols.in;
    for (std::size_t oh = 0; oh < rows.out; ++oh) {
      const PoolWindow r = rows[oh];
      for (std::size_t ow = 0; ow < cols.out; ++ow) {
        const PoolWindow q = cols[ow];
        const T g = dy[(c * rows.out + oh) * cols.out + ow] / T(r.divisor * q.divisor);
        for (std::size_t h = r.begin; h < r.end; ++h)
          for (std::size_t w = q.begin; w < q.end; ++w) plane[h * cols.in + w] += g;
      }
    }
  }
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
