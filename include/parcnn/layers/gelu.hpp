// parcnn/layers/gelu.hpp — GELU, element-wise (layers/elementwise.hpp); exact (erf) or tanh
// approximation (kernels/gelu.hpp). PyTorch's default is the exact form.
#pragma once

#include <memory>

#include "parcnn/kernels/gelu.hpp"
#include "parcnn/layers/elementwise.hpp"

namespace parcnn {

using kernels::GeluApproximation;

template <class T>
class GELU final : public ElementwiseLayer<T> {
 public:
  explicit GELU(GeluApproximation approximation = GeluApproximation::none)
      : ElementwiseLayer<T>({approximation == GeluApproximation::tanh ? kernels::PostOp::Kind::gelu_tanh
                                                                      : kernels::PostOp::Kind::gelu}) {}

  GeluApproximation approximation() const {
    return this->function().kind == kernels::PostOp::Kind::gelu_tanh ? GeluApproximation::tanh
                                                                     : GeluApproximation::none;
  }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<GELU>(*this); }
};

}  // namespace parcnn
