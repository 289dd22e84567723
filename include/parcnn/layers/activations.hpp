// parcnn/layers/activations.hpp — LeakyReLU, Sigmoid and Tanh: element-wise layers
// (layers/elementwise.hpp) over kernels/activations.hpp, as torch.nn's of the same names.
#pragma once

#include <cmath>
#include <memory>
#include <string>

#include "parcnn/core/error.hpp"
#include "parcnn/layers/elementwise.hpp"

namespace parcnn {

// x where x > 0, negative_slope·x elsewhere.
template <class T>
class LeakyReLU final : public ElementwiseLayer<T> {
 public:
  explicit LeakyReLU(double negative_slope = 0.01)
      : ElementwiseLayer<T>({kernels::PostOp::Kind::leaky_relu, checked(negative_slope)}) {}

  double negative_slope() const { return this->function().slope; }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<LeakyReLU>(*this); }

 private:
  static double checked(double slope) {
    if (!std::isfinite(slope)) throw ConfigError("LeakyReLU: the negative slope must be finite");
    return slope;
  }
};

// 1 / (1 + e^−x).
template <class T>
class Sigmoid final : public ElementwiseLayer<T> {
 public:
  Sigmoid() : ElementwiseLayer<T>({kernels::PostOp::Kind::sigmoid}) {}

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Sigmoid>(*this); }
};

template <class T>
class Tanh final : public ElementwiseLayer<T> {
 public:
  Tanh() : ElementwiseLayer<T>({kernels::PostOp::Kind::tanh}) {}

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Tanh>(*this); }
};

}  // namespace parcnn
