// parcnn/train/sgd.hpp — stochastic gradient descent with momentum, Nesterov momentum and weight
// decay, step for step as torch.optim.SGD computes it:
//   g = grad + weight_decay · p
//   b = g (first step), else b = momentum · b + (1 − dampening) · g
//   g = g + momentum · b (Nesterov) or g = b (momentum > 0)
//   p = p − lr · g
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

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
  Tensor<T> momentum_buffer;  // empty until the first step with momentum
  bool first = true;          // this step is the buffer's first
};
}  // namespace detail

template <class T>
class SGD final : public ParameterGroups<T, SgdOptions, detail::SgdState<T>> {
  using Base = ParameterGroups<T, SgdOptions, detail::SgdState<T>>;
  using Slot = typename Base::Slot;

 public:
  explicit SGD(std::vector<Parameter<T>*> params, const SgdOptions& options = {}) : Base(options) {
    this->add_group(std::move(params));
  }

  void begin_step() override {
    for (Slot& s : this->slots_) {
      detail::SgdState<T>& st = s.state;
      st.first = st.momentum_buffer.empty();
      if (st.first && this->groups_[s.group].options.momentum != 0)
        st.momentum_buffer = Tensor<T>(s.param->value->shape());
    }
  }

  // "<parameter>.momentum_buffer", once momentum has started (torch.optim.SGD's name).
  std::vector<NamedParameter<T>> state_tensors() override {
    std::vector<NamedParameter<T>> out;
    for (Slot& s : this->slots_)
      if (!s.state.momentum_buffer.empty()) out.push_back({s.param->name + ".momentum_buffer", &s.state.momentum_buffer});
    return out;
  }
  std::map<std::string, std::uint64_t> state_counters() const override { return {}; }
  void load_state(const std::map<std::string, Tensor<T>>& tensors, const std::map<std::string, std::uint64_t>&) override {
    std::vector<Tensor<T>> buffers(this->slots_.size());  // all read before any is set
    for (std::size_t i = 0; i < buffers.size(); ++i) {
      const Parameter<T>& p = *this->slots_[i].param;
      if (tensors.count(p.name + ".momentum_buffer"))
        detail::restore(tensors, p.name + ".momentum_buffer", p.value->shape(), buffers[i]);
    }
    for (std::size_t i = 0; i < buffers.size(); ++i) this->slots_[i].state.momentum_buffer = std::move(buffers[i]);
  }

 private:
  void update_slot(Slot& s, const SgdOptions& o, std::size_t begin, std::size_t count) override {
    T* w = s.param->value->data() + begin;
    const T* grad = s.param->grad.data() + begin;
    const T lr = T(o.lr), mu = T(o.momentum), damp = T(1 - o.dampening), wd = T(o.weight_decay);
    if (mu == 0) {  // plain SGD: w −= lr · (grad + wd · w)
      auto wv = detail::array_of(w, count);
      const auto gv = detail::array_of(grad, count);
      if (wd != 0)
        wv -= lr * (gv + wd * wv);
      else
        wv -= lr * gv;
      return;
    }
    T* buf = s.state.momentum_buffer.data() + begin;
    const bool first = s.state.first;
    for (std::size_t i = 0; i < count; ++i) {
      T g = grad[i];
      if (wd != 0) g += wd * w[i];
      buf[i] = first ? g : mu * buf[i] + damp * g;
      g = o.nesterov ? g + mu * buf[i] : buf[i];
      w[i] -= lr * g;
    }
  }
};

}  // namespace parcnn
