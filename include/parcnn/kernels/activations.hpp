// parcnn/kernels/activations.hpp — LeakyReLU, Sigmoid and Tanh over a span, and their backward passes.
//
// Each value on its own (a comparison, or libm's exp and tanh): the same bits whatever the cut, and in
// every instruction set. NaN in gives NaN out. The backward passes take the function's input x.
#include <cmath>
#include <cstddef>

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

// x where x > 0, slope·x elsewhere (as torch.nn.LeakyReLU: NaN kept).
template <class T>
void leaky_relu(T slope, const T* x, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : x[i] * slope;
}

// dx = dy where x > 0, slope·dy elsewhere (at 0 too, as PyTorch).
template <class T>
void leaky_relu_backward(T slope, const T* x, const T* dy, T* dx, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = x[i] > T(0) ? dy[i] : dy[i] * slope;
}

// 1 / (1 + e^−x): exactly 0 below about −745 (double) or −104 (float), 1 above about 37 or 17.
template <class T>
void sigmoid(const T* x, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = T(1) / (T(1) + std::exp(-x[i]));
}

// dx = dy·σ(x)·(1 − σ(x)).
template <class T>
void sigmoid_backward(const T* x, const T* dy, T* dx, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const T s = T(1) / (T(1) + std::exp(-x[i]));
    dx[i] = dy[i] * (s * (T(1) - s));
  }
}

template <class T>
void tanh(const T* x, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

// dx = dy·(1 − tanh²(x)).
template <class T>
void tanh_backward(const T* x, const T* dy, T* dx, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const T t = std::tanh(x[i]);
    dx[i] = dy[i] * (T(1) - t * t);
  }
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
