// parcnn/core/workspace.hpp — the memory one forward call works in.
//
// Layers keep no activations and no scratch: a caller owns a Workspace and passes it to forward, so one
// model can run on several threads at once (one Workspace each), and a pipeline can keep several batches
// in flight. Buffers grow to the largest shape seen and are then reused: once a workspace has seen a
// shape, a forward pass at that shape allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "parcnn/core/aligned_buffer.hpp"
#include "parcnn/core/scalar.hpp"
#include "parcnn/core/tensor.hpp"

namespace parcnn {

template <class T>
class Workspace {
  PARCNN_CHECK_SCALAR(T);

 public:
  // Gives each of `workers` workers at least `count` elements of private scratch. Call before a
  // parallel run; inside it, each block uses scratch(worker) of the worker it runs on.
  void reserve_scratch(std::size_t workers, std::size_t count) {
    if (scratch_.size() < workers) scratch_.resize(workers);
    for (std::size_t i = 0; i < workers; ++i) scratch_[i].reserve(count);
  }
  T* scratch(std::size_t worker) { return scratch_[worker].data(); }

  // One buffer shared by all blocks of a call (e.g. a convolution's columns for the whole batch).
  T* shared(std::size_t count) { return shared_.reserve(count); }

  // A tensor kept across calls (a model's intermediate activations), resized without reallocating
  // when it already holds enough.
  // Tensors live at stable addresses: asking for a new index never moves the others.
  Tensor<T>& tensor(std::size_t index, const Shape& shape) {
    while (tensors_.size() <= index) tensors_.push_back(std::make_unique<Tensor<T>>());
    tensors_[index]->resize(shape);
    return *tensors_[index];
  }

  // The tensor a previous call left at `index`, as it is. Throws std::out_of_range if there is none.
  Tensor<T>& tensor(std::size_t index) {
    if (index >= tensors_.size()) throw std::out_of_range("Workspace: no tensor " + std::to_string(index));
    return *tensors_[index];
  }

  bool has_tensor(std::size_t index) const { return index < tensors_.size(); }

  // Indices kept across calls, as tensors are: a pool's window positions, from forward_for_backward to
  // the backward pass that reads them. `count` of them, reusing the memory when it holds enough.
  std::uint32_t* indices(std::size_t count) {
    if (indices_.size() < count) indices_.resize(count);
    index_count_ = count;
    return indices_.data();
  }
  // The indices the last call to indices(count) asked for, and their count (0 when none).
  const std::uint32_t* indices() const { return indices_.data(); }
  std::size_t index_count() const { return index_count_; }

  // An object of type U kept with this workspace across calls (a model's plan for the input it last
  // ran), default-constructed on first use; one per type.
  template <class U>
  U& state() {
    const void* key = &type_key<U>;
    for (auto& [k, object] : states_)
      if (k == key) return *static_cast<U*>(object.get());
    states_.emplace_back(key, std::make_shared<U>());
    return *static_cast<U*>(states_.back().second.get());
  }

  // The workspace of a sub-layer of a composite layer, created on first use.
  Workspace& child(std::size_t index) {
    while (children_.size() <= index) children_.push_back(std::make_unique<Workspace>());
    return *children_[index];
  }

 private:
  std::vector<AlignedBuffer<T>> scratch_;
  AlignedBuffer<T> shared_;
  std::vector<std::unique_ptr<Tensor<T>>> tensors_;
  std::vector<std::unique_ptr<Workspace>> children_;
  std::vector<std::uint32_t> indices_;
  template <class U>
  static inline const char type_key = 0;  // its address names U
  std::vector<std::pair<const void*, std::shared_ptr<void>>> states_;
  std::size_t index_count_ = 0;
};

}  // namespace parcnn
