// parcnn/train/sgd.hpp — stochastic gradient descent with momentum, Nesterov momentum and weight
// decay, step for step as torch.optim.SGD computes it:
//   g = grad + weight_decay · p
//   b = g (first step), else b = momentum · b + (1 − dampening) · g
//   g = g + momentum · b (Nesterov) or g = b (momentum > 0)
//   p = p − lr · g
#pragma once

#include <string>

#include "parcnn/train/optimizer.hpp"

namespace parcnn {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;

  void validate() const {
    if (!(lr >= 0) || !(momentum >= 0) || !(weight_decay >= 0) || !(dampening >= 0))
      throw ConfigError("SGD: lr, momentum, dampening and weight_decay must be >= 0");
    if (nesterov && (momentum <= 0 || dampening != 0))
      throw ConfigError("SGD: Nesterov momentum needs momentum > 0 and dampening 0");
  }
};

namespace detail {
template <class T>
struct SgdState {
  Tensor<T> momentum_buffer;  // empty until the first step
};
}  // namespace detail

template <class T>
class SGD final : public ParameterGroups<T, SgdOptions, detail::SgdState<T>> {
  using Base = ParameterGroups<T, SgdOptions, detail::SgdState<T>>;

 public:
  explicit SGD(std::vector<Parameter<T>*> params, const SgdOptions& options = {}) : Base(options) {
    this->add_group(std::move(params));
  }

  void step() override {
    for (std::size_t gi = 0; gi < this->groups_.size(); ++gi) {
      const SgdOptions& o = this->groups_[gi].options;
      for (std::size_t pi = 0; pi < this->groups_[gi].params.size(); ++pi) {
        Parameter<T>& p = *this->groups_[gi].params[pi];
        detail::SgdState<T>& s = this->state_[gi][pi];
        const bool first = s.momentum_buffer.empty();
        if (o.momentum != 0 && first) s.momentum_buffer = Tensor<T>(p.value->shape());
        T* w = p.value->data();
        const T* grad = p.grad.data();
        T* buf = s.momentum_buffer.data();
        const T lr = T(o.lr), mu = T(o.momentum), damp = T(1 - o.dampening), wd = T(o.weight_decay);
        if (mu == 0) {  // plain SGD: w −= lr · (grad + wd · w)
          detail::for_each_block(p.value->size(), [&](std::size_t i, std::size_t n) {
            auto wv = detail::array_of(w + i, n);
            const auto gv = detail::array_of(grad + i, n);
            if (wd != 0)
              wv -= lr * (gv + wd * wv);
            else
              wv -= lr * gv;
          });
          continue;
        }
        detail::for_each_element(p.value->size(), [&](std::size_t i) {
          T g = grad[i];
          if (wd != 0) g += wd * w[i];
          buf[i] = first ? g : mu * buf[i] + damp * g;
          g = o.nesterov ? g + mu * buf[i] : buf[i];
          w[i] -= lr * g;
        });
      }
    }
  }
};

}  // namespace parcnn
