// parcnn/layers/log_softmax.hpp — LogSoftmax over the classes of each image: [N, C] → [N, C]
// (layers/rowwise.hpp, kernels/log_softmax.hpp).
#pragma once

#include <memory>
#include <string>

#include "parcnn/kernels/log_softmax.hpp"
#include "parcnn/layers/rowwise.hpp"

namespace parcnn {

template <class T>
class LogSoftmax final : public RowwiseLayer<T> {
 public:
  std::string name() const override { return "LogSoftmax(dim=1)"; }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<LogSoftmax>(*this); }

 protected:
  void rows(const T* x, std::size_t cols, std::size_t r0, std::size_t r1, T* y) const override {
    kernels::log_softmax_rows(x, cols, r0, r1, y);
  }
  void backward_rows(const T* y, const T* dy, std::size_t cols, std::size_t r0, std::size_t r1, T* dx) const override {
    kernels::log_softmax_backward_rows(y, dy, cols, r0, r1, dx);
  }
};

}  // namespace parcnn
