// parcnn/core/shape.hpp — the shape of a tensor: rank 1 to 4, NCHW order for rank 4.
//
// A shape holds at most max_numel elements (2^60), so that its element count, its size in bytes and
// any sum of a few of its extents fit in both size_t and ptrdiff_t: a larger one throws ShapeError
// instead of wrapping around.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <vector>

#include "parcnn/core/error.hpp"

namespace parcnn {

// a · b, or false when the product exceeds `limit`.
inline bool multiply_within(std::size_t a, std::size_t b, std::size_t limit, std::size_t& product) {
  return !__builtin_mul_overflow(a, b, &product) && product <= limit;
}

class Shape {
 public:
  static constexpr std::size_t max_rank = 4;
  static constexpr std::size_t max_numel = std::size_t(1) << 60;

  Shape() = default;

  // Shape{N, C, H, W}, Shape{N, F}, ... Throws ShapeError for a rank outside 1..4 and for more than
  // max_numel elements.
  Shape(std::initializer_list<std::size_t> dims) : Shape(dims.begin(), dims.end()) {}

  // The same from sizes known at run time (a file's, say).
  explicit Shape(const std::vector<std::size_t>& dims) : Shape(dims.data(), dims.data() + dims.size()) {}

  std::size_t rank() const { return rank_; }
  std::size_t operator[](std::size_t i) const { return dims_[i]; }
  std::size_t& operator[](std::size_t i) { return dims_[i]; }

 private:
  Shape(const std::size_t* first, const std::size_t* last) {
    const std::size_t rank = std::size_t(last - first);
    if (rank == 0 || rank > max_rank) throw ShapeError("Shape: rank must be 1 to 4, got " + std::to_string(rank));
    rank_ = rank;
    for (std::size_t i = 0; i < rank; ++i) dims_[i] = first[i];
    numel();
  }

 public:
  // Number of elements; 1 for the empty (rank 0) shape of a default-constructed tensor is avoided by
  // returning 0 there, so that an empty tensor holds nothing.
  // Throws ShapeError when the count exceeds max_numel (a dimension set through operator[]).
  std::size_t numel() const {
    if (rank_ == 0) return 0;
    if (has_zero_dim()) return 0;
    std::size_t n = 1;
    for (std::size_t i = 0; i < rank_; ++i)
      if (!multiply_within(n, dims_[i], max_numel, n))
        throw ShapeError("Shape " + str() + ": more than 2^60 elements");
    return n;
  }

  // Elements per index of the first dimension (one image of an NCHW batch).
  std::size_t inner_numel() const {
    for (std::size_t i = 1; i < rank_; ++i)
      if (dims_[i] == 0) return 0;
    std::size_t n = 1;
    for (std::size_t i = 1; i < rank_; ++i)
      if (!multiply_within(n, dims_[i], max_numel, n))
        throw ShapeError("Shape " + str() + ": more than 2^60 elements");
    return n;
  }

  bool has_zero_dim() const {
    for (std::size_t i = 0; i < rank_; ++i)
      if (dims_[i] == 0) return true;
    return false;
  }

  // The same shape with its first dimension replaced (a batch range of an NCHW tensor).
  Shape with_batch(std::size_t n) const {
    Shape s = *this;
    s.dims_[0] = n;
    return s;
  }

  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (std::size_t i = 0; i < a.rank_; ++i)
      if (a.dims_[i] != b.dims_[i]) return false;
    return true;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

  // "[8, 16, 13, 13]", the form every error message uses.
  std::string str() const {
    std::string s = "[";
    for (std::size_t i = 0; i < rank_; ++i) {
      if (i) s += ", ";
      s += std::to_string(dims_[i]);
    }
    return s + "]";
  }

 private:
  std::array<std::size_t, max_rank> dims_{};
  std::size_t rank_ = 0;
};

}  // namespace parcnn
