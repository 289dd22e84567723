// parcnn/kernels/relu.hpp — ReLU over a span, and its backward pass.
//
// relu(x) = max(x, 0), NaN kept (as PyTorch's); the gradient passes where x > 0 and is 0 elsewhere
// (at 0 too). Each element is one comparison: the same bits whatever the cut.

#include <cstddef>

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

template <class T>
void relu(const T* x, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = x[i] < T(0) ? T(0) : x[i];
}

// dx = dy where x > 0, else 0; x is relu's input.
template <class T>
void relu_backward(const T* x, const T* dy, T* dx, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = x[i] > T(0) ? dy[i] : T(0);
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
