// parcnn/layers/softmax.hpp — Softmax over the classes of each image: [N, C] → [N, C], rows summing to 1
// (layers/rowwise.hpp, kernels/softmax.hpp).
//
// To train a classifier, end the model in LogSoftmax (NLL loss) or in neither (cross-entropy on raw
// scores): the log of a softmax loses the small probabilities.
#pragma once

#include <memory>
#include <string>

#include "parcnn/kernels/softmax.hpp"
#include "parcnn/layers/rowwise.hpp"

namespace parcnn {

template <class T>
class Softmax final : public RowwiseLayer<T> {
 public:
  std::string name() const override { return "Softmax(dim=1)"; }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Softmax>(*this); }

 protected:
  void rows(const T* x, std::size_t cols, std::size_t r0, std::size_t r1, T* y) const override {
    kernels::softmax_rows(x, cols, r0, r1, y);
  }
  void backward_rows(const T* y, const T* dy, std::size_t cols, std::size_t r0, std::size_t r1, T* dx) const override {
    kernels::softmax_backward_rows(y, dy, cols, r0, r1, dx);
  }
};

}  // namespace parcnn
