// parcnn/core/tensor_view.hpp — a non-owning view of contiguous tensor memory.
//
// Kernels and layers take views, so a batch range of a larger tensor (`x.batch(8, 16)`) or a
// reshaped tensor (`x.reshape({N, C * H * W})`) runs through them without a copy.
// `TensorView<const T>` is the read-only view; a `TensorView<T>` converts to it implicitly.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "parcnn/core/error.hpp"
#include "parcnn/core/scalar.hpp"
#include "parcnn/core/shape.hpp"

namespace parcnn {

template <class T>
class TensorView {
  PARCNN_CHECK_SCALAR(T);

 public:
  using value_type = std::remove_const_t<T>;

  TensorView() = default;
  TensorView(T* data, const Shape& shape) : data_(data), shape_(shape) {}

  // A mutable view converts to a read-only one.
  template <class U, class = std::enable_if_t<std::is_const_v<T> && std::is_same_v<const U, T>>>
  TensorView(const TensorView<U>& other) : data_(other.data()), shape_(other.shape()) {}

  T* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  std::size_t rank() const { return shape_.rank(); }
  std::size_t dim(std::size_t i) const { return shape_[i]; }
  std::size_t size() const { return shape_.numel(); }
  bool empty() const { return size() == 0; }
  T* begin() const { return data_; }
  T* end() const { return data_ + size(); }

  // Unchecked element access in row-major (NCHW) order; the number of indices must equal the rank.
  T& operator()(std::size_t i) const { return data_[i]; }
  T& operator()(std::size_t i, std::size_t j) const { return data_[i * shape_[1] + j]; }
  T& operator()(std::size_t n, std::size_t c, std::size_t h, std::size_t w) const {
    return data_[((n * shape_[1] + c) * shape_[2] + h) * shape_[3] + w];
  }
  T& operator()(std::size_t i, std::size_t j, std::size_t k) const {
    return data_[(i * shape_[1] + j) * shape_[2] + k];
  }

  // Checked element access: throws std::out_of_range on a wrong index count or an index past the end.
  template <class... I>
  T& at(I... idx) const {
    const std::size_t ids[] = {static_cast<std::size_t>(idx)...};
    if (sizeof...(I) != rank())
      throw std::out_of_range("TensorView::at: " + std::to_string(sizeof...(I)) +
                              " indices for a tensor of shape " + shape_.str());
    std::size_t offset = 0;
    for (std::size_t d = 0; d < sizeof...(I); ++d) {
      if (ids[d] >= shape_[d])
        throw std::out_of_range("TensorView::at: index " + std::to_string(ids[d]) + " of dimension " +
                                std::to_string(d) + " is out of range for shape " + shape_.str());
      offset = offset * shape_[d] + ids[d];
    }
    return data_[offset];
  }

  // Images [n0, n1) of the first dimension, without copying.
  TensorView batch(std::size_t n0, std::size_t n1) const {
    if (rank() == 0 || n0 > n1 || n1 > shape_[0])
      throw ShapeError("TensorView::batch: range [" + std::to_string(n0) + ", " + std::to_string(n1) +
                       ") is outside the first dimension of " + shape_.str());
    return TensorView(data_ + n0 * shape_.inner_numel(), shape_.with_batch(n1 - n0));
  }

  // The same memory under another shape with the same number of elements.
  TensorView reshape(const Shape& shape) const {
    if (shape.numel() != size())
      throw ShapeError("TensorView::reshape: cannot view " + shape_.str() + " (" + std::to_string(size()) +
                       " elements) as " + shape.str() + " (" + std::to_string(shape.numel()) + " elements)");
    return TensorView(data_, shape);
  }

  // [N, everything else]: what a Linear layer takes after the convolutions.
  TensorView flatten() const { return reshape(Shape{shape_[0], shape_.inner_numel()}); }

 private:
  T* data_ = nullptr;
  Shape shape_;
};

}  // namespace parcnn
