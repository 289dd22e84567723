// parcnn/train/parameters.hpp — a model's parameters paired with their gradients.
//
// The model owns the values; a Parameters object owns one gradient tensor per value, zero until a
// backward pass adds to it. Optimizers hold pointers into it, so it must outlive them and must not move
// (it is neither copyable nor movable).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "parcnn/core/gradient_chunks.hpp"
#include "parcnn/core/tensor.hpp"
#include "parcnn/layers/layer.hpp"

namespace parcnn {

// A contiguous run of elements of one tensor in a list of tensors.
struct ElementRange {
  std::size_t tensor = 0, begin = 0, count = 0;
};

// Tensors of the given sizes cut into ranges of at most `block` elements, each inside one tensor and
// starting at a multiple of `block` in it, tensor after tensor. The cut depends on the sizes alone, so
// an elementwise pass over the ranges, in parallel, gives the same bits with any thread count.
inline std::vector<ElementRange> element_ranges(const std::vector<std::size_t>& sizes, std::size_t block) {
  std::vector<ElementRange> out;
  for (std::size_t t = 0; t < sizes.size(); ++t)
    for (std::size_t i = 0; i < sizes[t]; i += block) out.push_back({t, i, std::min(block, sizes[t] - i)});
  return out;
}

// Elements per range of an optimizer's pass: 64 KiB of each array, a multiple of every SIMD width, so
// that only a tensor's last range has a scalar tail, wherever the ranges fall.
inline constexpr std::size_t update_block = 16384;

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
    std::vector<std::size_t> sizes;
    for (const NamedParameter<T>& p : model.parameters()) {
      params_.push_back({p.name, p.tensor, Tensor<T>(p.tensor->shape())});
      sizes.push_back(p.tensor->size());
    }
    ranges_ = element_ranges(sizes, update_block);
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

  // Every parameter's elements in ranges of update_block (element_ranges), for an elementwise pass.
  const std::vector<ElementRange>& ranges() const { return ranges_; }

  // The gradient chunks backward (train/backward.hpp) accumulates into before it sums them here.
  GradientChunks<T>& chunks() { return chunks_; }

  std::size_t count() const {
    std::size_t n = 0;
    for (const auto& p : params_) n += p.value->size();
    return n;
  }

 private:
  std::vector<Parameter<T>> params_;
  std::vector<ElementRange> ranges_;
  GradientChunks<T> chunks_;
};

}  // namespace parcnn
