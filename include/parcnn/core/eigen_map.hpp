// parcnn/core/eigen_map.hpp — tensor memory seen as Eigen matrices, without copying.
#pragma once

#include <Eigen/Core>

#include "parcnn/core/error.hpp"
#include "parcnn/core/tensor_view.hpp"

namespace parcnn {

template <class T>
using RowMajorMatrix = Eigen::Matrix<std::remove_const_t<T>, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The view as a row-major [dim(0), everything else] matrix: rows are images for an NCHW batch, rows
// are output channels for a conv weight [Cout, Cin, kh, kw], rows are output features for a Linear
// weight [out, in]. Rank-1 views become one column.
template <class T>
auto as_matrix(TensorView<T> v) {
  using Matrix = std::conditional_t<std::is_const_v<T>, const RowMajorMatrix<T>, RowMajorMatrix<T>>;
  const Eigen::Index rows = static_cast<Eigen::Index>(v.rank() == 1 ? v.size() : v.dim(0));
  const Eigen::Index cols = static_cast<Eigen::Index>(v.rank() == 1 ? 1 : v.shape().inner_numel());
  return Eigen::Map<Matrix>(v.data(), rows, cols);
}

}  // namespace parcnn
