// parcnn/train/adam.hpp — Adam, step for step as torch.optim.Adam computes it (without amsgrad):
//   g = grad + weight_decay · p
//   m = β1 m + (1 − β1) g          v = β2 v + (1 − β2) g²
//   p = p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps)
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

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
  T step_size = 0, bias2_sqrt = 1;  // lr / (1 − β1^t) and √(1 − β2^t) of the step under way
};
}  // namespace detail

template <class T>
class Adam final : public ParameterGroups<T, AdamOptions, detail::AdamState<T>> {
  using Base = ParameterGroups<T, AdamOptions, detail::AdamState<T>>;
  using Slot = typename Base::Slot;

 public:
  explicit Adam(std::vector<Parameter<T>*> params, const AdamOptions& options = {}) : Base(options) {
    this->add_group(std::move(params));
  }

  void begin_step() override {
    for (Slot& s : this->slots_) {
      detail::AdamState<T>& st = s.state;
      const AdamOptions& o = this->groups_[s.group].options;
      if (st.steps++ == 0) st.m = Tensor<T>(s.param->value->shape()), st.v = Tensor<T>(s.param->value->shape());
      const double t = double(st.steps);
      st.step_size = T(o.lr / (1 - std::pow(o.beta1, t)));
      st.bias2_sqrt = T(std::sqrt(1 - std::pow(o.beta2, t)));
    }
  }

  // "<parameter>.exp_avg", ".exp_avg_sq" and the counter ".step" (torch.optim.Adam's names).
  std::vector<NamedParameter<T>> state_tensors() override {
    std::vector<NamedParameter<T>> out;
    for (Slot& s : this->slots_)
      if (s.state.steps > 0) {
        out.push_back({s.param->name + ".exp_avg", &s.state.m});
        out.push_back({s.param->name + ".exp_avg_sq", &s.state.v});
      }
    return out;
  }
  std::map<std::string, std::uint64_t> state_counters() const override {
    std::map<std::string, std::uint64_t> out;
    for (const Slot& s : this->slots_)
      if (s.state.steps > 0) out[s.param->name + ".step"] = s.state.steps;
    return out;
  }
  void load_state(const std::map<std::string, Tensor<T>>& tensors,
                  const std::map<std::string, std::uint64_t>& counters) override {
    std::vector<detail::AdamState<T>> states(this->slots_.size());  // all read before any is set
    for (std::size_t i = 0; i < states.size(); ++i) {
      const Parameter<T>& p = *this->slots_[i].param;
      const auto step = counters.find(p.name + ".step");
      if (step == counters.end() || step->second == 0) continue;
      states[i].steps = step->second;
      detail::restore(tensors, p.name + ".exp_avg", p.value->shape(), states[i].m);
      detail::restore(tensors, p.name + ".exp_avg_sq", p.value->shape(), states[i].v);
    }
    for (std::size_t i = 0; i < states.size(); ++i) this->slots_[i].state = std::move(states[i]);
  }

 private:
  void update_slot(Slot& s, const AdamOptions& o, std::size_t begin, std::size_t count) override {
    detail::AdamState<T>& st = s.state;
    const T b1 = T(o.beta1), b2 = T(o.beta2), eps = T(o.eps), wd = T(o.weight_decay);
    auto wv = detail::array_of(s.param->value->data() + begin, count);
    auto mv = detail::array_of(st.m.data() + begin, count), vv = detail::array_of(st.v.data() + begin, count);
    const auto gv = detail::array_of(static_cast<const T*>(s.param->grad.data()) + begin, count);
    if (wd != 0) {
      mv = b1 * mv + (T(1) - b1) * (gv + wd * wv);
      vv = b2 * vv + (T(1) - b2) * (gv + wd * wv).square();
    } else {
      mv = b1 * mv + (T(1) - b1) * gv;
      vv = b2 * vv + (T(1) - b2) * gv.square();
    }
    wv -= st.step_size * mv / (vv.sqrt() / st.bias2_sqrt + eps);
  }
};

}  // namespace parcnn
