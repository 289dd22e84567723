// parcnn/train/parameters.hpp — a model's parameters paired with their gradients.
//
// The model owns the values; a Parameters object owns one gradient tensor per value, zero until a
// backward pass adds to it. Optimizers hold pointers into it, so it must outlive them and must not move
// (it is neither copyable nor movable).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "parcnn/core/tensor.hpp"
#include "parcnn/layers/layer.hpp"

namespace parcnn {

template <class T>
struct Parameter {
  std::string name;
  Tensor<T>* value;
  Tensor<T> grad;
};

template <class T>
class Parameters {
 public:
  explicit Parameters(Layer<T>& model) {
    for (const NamedParameter<T>& p : model.parameters()) params_.push_back({p.name, p.tensor, Tensor<T>(p.tensor->shape())});
  }
  Parameters(const Parameters&) = delete;
  Parameters& operator=(const Parameters&) = delete;

  std::size_t size() const { return params_.size(); }

  // Whether these are `model`'s own parameters, tensor for tensor (not another model's of the same
  // layout).
  bool belong_to(Layer<T>& model) const {
    const std::vector<NamedParameter<T>> p = model.parameters();
    if (p.size() != params_.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i)
      if (p[i].tensor != params_[i].value) return false;
    return true;
  }
  Parameter<T>& operator[](std::size_t i) { return params_.at(i); }
  auto begin() { return params_.begin(); }
  auto end() { return params_.end(); }

  // All parameters, or those whose name starts with `prefix` ("fc" for the linear layers): the
  // argument an optimizer's parameter group takes.
  std::vector<Parameter<T>*> all() { return matching(""); }
  std::vector<Parameter<T>*> matching(const std::string& prefix) {
    std::vector<Parameter<T>*> out;
    for (auto& p : params_)
      if (p.name.rfind(prefix, 0) == 0) out.push_back(&p);
    return out;
  }

  std::vector<TensorView<T>> grads() {
    std::vector<TensorView<T>> out;
    for (auto& p : params_) out.push_back(p.grad.view());
    return out;
  }

  void zero_grad() {
    for (auto& p : params_) std::fill(p.grad.begin(), p.grad.end(), T(0));
  }

  std::size_t count() const {
    std::size_t n = 0;
    for (const auto& p : params_) n += p.value->size();
    return n;
  }

 private:
  std::vector<Parameter<T>> params_;
};

}  // namespace parcnn
