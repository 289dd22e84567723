// parcnn/layers/relu.hpp — ReLU, element-wise (layers/elementwise.hpp): max(x, 0), NaN kept
// (kernels/relu.hpp).
#pragma once

#include <memory>

#include "parcnn/layers/elementwise.hpp"

namespace parcnn {

template <class T>
class ReLU final : public ElementwiseLayer<T> {
 public:
  ReLU() : ElementwiseLayer<T>({kernels::PostOp::Kind::relu}) {}

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<ReLU>(*this); }
};

}  // namespace parcnn
