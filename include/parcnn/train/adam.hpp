// parcnn/train/adam.hpp — Adam, step for step as torch.optim.Adam computes it (without amsgrad):
//   g = grad + weight_decay · p
//   m = β1 m + (1 − β1) g          v = β2 v + (1 − β2) g²
//   p = p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps)
#pragma once

#include <cmath>
#include <string>

#include "parcnn/train/optimizer.hpp"

namespace parcnn {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;

  void validate() const {
    if (!(lr >= 0) || !(eps >= 0) || !(weight_decay >= 0))
      throw ConfigError("Adam: lr, eps and weight_decay must be >= 0");
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
      throw ConfigError("Adam: betas must lie in [0, 1)");
  }
};

namespace detail {
template <class T>
struct AdamState {
  std::size_t steps = 0;
  Tensor<T> m, v;
};
}  // namespace detail

template <class T>
class Adam final : public ParameterGroups<T, AdamOptions, detail::AdamState<T>> {
  using Base = ParameterGroups<T, AdamOptions, detail::AdamState<T>>;

 public:
  explicit Adam(std::vector<Parameter<T>*> params, const AdamOptions& options = {}) : Base(options) {
    this->add_group(std::move(params));
  }

  void step() override {
    for (std::size_t gi = 0; gi < this->groups_.size(); ++gi) {
      const AdamOptions& o = this->groups_[gi].options;
      for (std::size_t pi = 0; pi < this->groups_[gi].params.size(); ++pi) {
        Parameter<T>& p = *this->groups_[gi].params[pi];
        detail::AdamState<T>& s = this->state_[gi][pi];
        if (s.steps++ == 0) s.m = Tensor<T>(p.value->shape()), s.v = Tensor<T>(p.value->shape());
        const double t = double(s.steps);
        const T step_size = T(o.lr / (1 - std::pow(o.beta1, t)));
        const T bias2_sqrt = T(std::sqrt(1 - std::pow(o.beta2, t)));
        const T b1 = T(o.beta1), b2 = T(o.beta2), eps = T(o.eps), wd = T(o.weight_decay);
        T* w = p.value->data();
        const T* grad = p.grad.data();
        T* m = s.m.data();
        T* v = s.v.data();
        detail::for_each_block(p.value->size(), [&](std::size_t i, std::size_t n) {
          auto wv = detail::array_of(w + i, n), mv = detail::array_of(m + i, n), vv = detail::array_of(v + i, n);
          const auto gv = detail::array_of(grad + i, n);
          if (wd != 0) {
            mv = b1 * mv + (T(1) - b1) * (gv + wd * wv);
            vv = b2 * vv + (T(1) - b2) * (gv + wd * wv).square();
          } else {
            mv = b1 * mv + (T(1) - b1) * gv;
            vv = b2 * vv + (T(1) - b2) * gv.square();
          }
          wv -= step_size * mv / (vv.sqrt() / bias2_sqrt + eps);
        });
      }
    }
  }
};

}  // namespace parcnn
