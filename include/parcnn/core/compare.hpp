// parcnn/core/compare.hpp — how far apart two tensors are: the checks behind "results match".
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "parcnn/core/error.hpp"
#include "parcnn/core/tensor_view.hpp"

namespace parcnn {

namespace detail {
template <class A, class B>
void require_same_shape(const TensorView<A>& a, const TensorView<B>& b, const char* what) {
  if (a.shape() != b.shape())
    throw ShapeError(std::string(what) + ": shapes differ, " + a.shape().str() + " vs " + b.shape().str());
}
}  // namespace detail

// max |a - b|. NaN in either makes the answer NaN, so a NaN never passes a tolerance check.
template <class T>
double max_abs_diff(TensorView<const T> a, TensorView<const T> b) {
  detail::require_same_shape(a, b, "max_abs_diff");
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(double(a.data()[i]) - double(b.data()[i]));
    if (std::isnan(d)) return std::numeric_limits<double>::quiet_NaN();
    m = std::max(m, d);
  }
  return m;
}

// max |a - b| / max(|a|, |b|, floor): relative where values are large, absolute below `floor`.
template <class T>
double max_rel_diff(TensorView<const T> a, TensorView<const T> b, double floor = 1e-6) {
  detail::require_same_shape(a, b, "max_rel_diff");
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double x = a.data()[i], y = b.data()[i];
    const double d = std::abs(x - y) / std::max({std::abs(x), std::abs(y), floor});
    if (std::isnan(d)) return std::numeric_limits<double>::quiet_NaN();
    m = std::max(m, d);
  }
  return m;
}

// True when both hold the same bits (NaNs of the same payload compare equal; +0 and -0 do not).
template <class T>
bool bitwise_equal(TensorView<const T> a, TensorView<const T> b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

}  // namespace parcnn
