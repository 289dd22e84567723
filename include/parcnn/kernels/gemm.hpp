// parcnn/kernels/gemm.hpp — C = A · B on row-major memory, through Eigen, on the calling thread.
//
// All parallelism in parcnn comes from the strategy; Eigen runs a product single-threaded unless the
// program is built with OpenMP, which parcnn never enables (two thread pools would fight).
#pragma once

#include <cstddef>

#include <Eigen/Core>

namespace parcnn::kernels {

// C[M×N] = A[M×K] · B[K×N]; lda, ldb, ldc are the row strides (elements) of each matrix.
template <class T>
void gemm(std::size_t M, std::size_t N, std::size_t K, const T* A, std::size_t lda, const T* B, std::size_t ldb, T* C,
          std::size_t ldc) {
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Stride = Eigen::OuterStride<>;
  const auto m = static_cast<Eigen::Index>(M), n = static_cast<Eigen::Index>(N), k = static_cast<Eigen::Index>(K);
  Eigen::Map<const Matrix, Eigen::Unaligned, Stride> a(A, m, k, Stride(static_cast<Eigen::Index>(lda)));
  Eigen::Map<const Matrix, Eigen::Unaligned, Stride> b(B, k, n, Stride(static_cast<Eigen::Index>(ldb)));
  Eigen::Map<Matrix, Eigen::Unaligned, Stride> c(C, m, n, Stride(static_cast<Eigen::Index>(ldc)));
  c.noalias() = a * b;
}

// y[M] = A[M×K] · x[K], A row-major with row stride lda.
template <class T>
void gemv(std::size_t M, std::size_t K, const T* A, std::size_t lda, const T* x, T* y) {
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  using Stride = Eigen::OuterStride<>;
  Eigen::Map<const Matrix, Eigen::Unaligned, Stride> a(A, static_cast<Eigen::Index>(M), static_cast<Eigen::Index>(K),
                                                      Stride(static_cast<Eigen::Index>(lda)));
  Eigen::Map<const Vector> v(x, static_cast<Eigen::Index>(K));
  Eigen::Map<Vector> out(y, static_cast<Eigen::Index>(M));
  out.noalias() = a * v;
}

}  // namespace parcnn::kernels
