// parcnn/core/tensor.hpp — Tensor<T>: an owning, contiguous, 64-byte-aligned NCHW tensor.
//
// A Tensor is a value: copying it copies the elements. Views (`view()`, `batch()`, `reshape()`) share
// its memory without copying and must not outlive it. Elements of a new tensor are zero unless a fill
// value is given.
#pragma once

#include <algorithm>
#include <cstddef>

#include "parcnn/core/aligned_buffer.hpp"
#include "parcnn/core/error.hpp"
#include "parcnn/core/scalar.hpp"
#include "parcnn/core/shape.hpp"
#include "parcnn/core/tensor_view.hpp"

namespace parcnn {

template <class T>
class Tensor {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "parcnn::Tensor<T>: T must be float or double");

 public:
  using value_type = T;

  Tensor() = default;
  explicit Tensor(const Shape& shape, T fill = T(0)) : shape_(shape), storage_(shape.numel()) {
    std::fill_n(storage_.data(), shape.numel(), fill);
  }
  // A copy of the elements a view shows.
  explicit Tensor(TensorView<const T> v) : shape_(v.shape()), storage_(v.size()) {
    std::copy(v.begin(), v.end(), storage_.data());
  }

  T* data() { return storage_.data(); }
  const T* data() const { return storage_.data(); }
  const Shape& shape() const { return shape_; }
  std::size_t rank() const { return shape_.rank(); }
  std::size_t dim(std::size_t i) const { return shape_[i]; }
  std::size_t size() const { return shape_.numel(); }
  bool empty() const { return size() == 0; }
  T* begin() { return data(); }
  T* end() { return data() + size(); }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size(); }

  TensorView<T> view() { return TensorView<T>(data(), shape_); }
  TensorView<const T> view() const { return TensorView<const T>(data(), shape_); }
  operator TensorView<T>() { return view(); }
  operator TensorView<const T>() const { return view(); }

  template <class... I>
  T& operator()(I... idx) { return view()(static_cast<std::size_t>(idx)...); }
  template <class... I>
  const T& operator()(I... idx) const { return view()(static_cast<std::size_t>(idx)...); }
  template <class... I>
  T& at(I... idx) { return view().at(idx...); }
  template <class... I>
  const T& at(I... idx) const { return view().at(idx...); }

  TensorView<T> batch(std::size_t n0, std::size_t n1) { return view().batch(n0, n1); }
  TensorView<const T> batch(std::size_t n0, std::size_t n1) const { return view().batch(n0, n1); }
  TensorView<T> reshape(const Shape& s) { return view().reshape(s); }
  TensorView<const T> reshape(const Shape& s) const { return view().reshape(s); }
  TensorView<T> flatten() { return view().flatten(); }
  TensorView<const T> flatten() const { return view().flatten(); }

  // Gives the tensor a new shape, keeping the memory when the element count allows; the elements are
  // then unspecified. Used to reuse activation buffers across calls without allocating.
  void resize(const Shape& shape) {
    storage_.reserve(shape.numel());
    shape_ = shape;
  }

 private:
  Shape shape_;
  AlignedBuffer<T> storage_;
};

}  // namespace parcnn
