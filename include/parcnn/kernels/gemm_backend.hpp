// parcnn/kernels/gemm_backend.hpp — the matrix product a layer's forward runs on, and Eigen's.
//
//   GemmBackend::parcnn  kernels/gemm.hpp: every output one chain of multiply-adds over k in order, by
//                        the same instructions wherever it falls, so every cut, strategy and thread
//                        count gives the same bits (the determinism the README promises). The default.
//   GemmBackend::eigen   Eigen's general matrix product: its blocking and register paths follow the
//                        matrix sizes, so a plan run again gives the same bits, but another cut (another
//                        strategy or thread count) may change the last bits. Eigen is vectorised at the
//                        width of the flags of the file that includes it (SSE2 without -march), not by
//                        parcnn's runtime dispatch.
// Forward passes only: training's products are parcnn's whatever the choice.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include <Eigen/Core>

#include "parcnn/core/error.hpp"

namespace parcnn::kernels {

enum class GemmBackend { parcnn, eigen };

inline const char* gemm_backend_name(GemmBackend b) { return b == GemmBackend::eigen ? "eigen" : "parcnn"; }

inline GemmBackend parse_gemm_backend(std::string_view name) {
  if (name == "parcnn") return GemmBackend::parcnn;
  if (name == "eigen") return GemmBackend::eigen;
  throw ConfigError("unknown GEMM backend '" + std::string(name) + "': expected parcnn or eigen");
}

namespace detail {
template <class T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstRows = Eigen::Map<const RowMajorMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using Rows = Eigen::Map<RowMajorMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
}  // namespace detail

// C[M×N] = A·B by Eigen, all row-major with row strides lda, ldb, ldc.
template <class T>
void gemm_eigen(std::size_t M, std::size_t N, std::size_t K, const T* A, std::size_t lda, const T* B, std::size_t ldb,
                T* C, std::size_t ldc) {
  using Index = Eigen::Index;
  detail::Rows<T> c(C, Index(M), Index(N), Eigen::OuterStride<>(Index(ldc)));
  if (K == 0) {
    c.setZero();
    return;
  }
  const detail::ConstRows<T> a(A, Index(M), Index(K), Eigen::OuterStride<>(Index(lda)));
  const detail::ConstRows<T> b(B, Index(K), Index(N), Eigen::OuterStride<>(Index(ldb)));
  c.noalias() = a * b;
}

// Rows `rows` × features [f0, f0 + nf) of y [N, out] = x [N, in] · weight[out, in]ᵀ + bias, by Eigen.
template <class T>
void linear_eigen(const T* x, const T* weight, const T* bias, std::size_t in, std::size_t out, std::size_t r0,
                  std::size_t nr, std::size_t f0, std::size_t nf, T* y) {
  using Index = Eigen::Index;
  const detail::ConstRows<T> xs(x + r0 * in, Index(nr), Index(in), Eigen::OuterStride<>(Index(in)));
  const detail::ConstRows<T> w(weight + f0 * in, Index(nf), Index(in), Eigen::OuterStride<>(Index(in)));
  detail::Rows<T> ys(y + r0 * out + f0, Index(nr), Index(nf), Eigen::OuterStride<>(Index(out)));
  ys.noalias() = xs * w.transpose();
  if (bias) ys.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias + f0, Index(nf));
}

}  // namespace parcnn::kernels
