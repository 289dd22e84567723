// parcnn/kernels/gemm.hpp — C = A·B (or C += A·B) on the calling thread, with a summation order that
// does not depend on the matrix shapes.
//
// Why not Eigen's GEMM: Eigen picks different register paths for different matrix sizes, so the same
// output element is summed in a different order when a strategy hands it a smaller block (a channel
// block, a tile), and the bits change. Training must give the same weights under every strategy and
// thread count, so every element here is one chain over k in order:
//     c = C or 0;  for k = 0..K-1:  c = a(i,k) · b(k,j) + c   (fused where the target has FMA)
// computed by the same vector instructions wherever the element falls: whole register tiles, the last
// rows, or the last columns (copied into a zero-padded panel). Measured on this project's machines, the
// AVX-512 register tile (8 rows × 2 vectors) also runs faster than Eigen's kernel on the letter CNN's shapes.
//
// Uses the vector extensions of GCC and Clang (kernels/vec.hpp). All parallelism is the strategy's, never this code's.

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "parcnn/core/scalar.hpp"

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

namespace detail {

// MR rows × NV vectors of C, all of K. A(i, k) = A[i·rsa + k·csa]; B, C row-major.
template <int MR, int NV, class T>
inline void gemm_tile(std::size_t K, const T* A, std::size_t rsa, std::size_t csa, const T* B, std::size_t ldb, T* C,
                      std::size_t ldc, bool accumulate) {
  using V = typename Vec<T>::type;
  constexpr int L = Vec<T>::lanes;
  V c[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) c[r][v] = accumulate ? load(C + r * ldc + v * L) : V{};
  for (std::size_t k = 0; k < K; ++k) {
    V b[NV];
    for (int v = 0; v < NV; ++v) b[v] = load(B + k * ldb + v * L);
    for (int r = 0; r < MR; ++r) {
      const T a = A[r * rsa + k * csa];  // scalar × vector: the compiler broadcasts a once
      for (int v = 0; v < NV; ++v) c[r][v] = a * b[v] + c[r][v];
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) store(C + r * ldc + v * L, c[r][v]);
}

// All M rows of one column panel NV vectors wide.
template <int NV, class T>
void gemm_panel(std::size_t M, std::size_t K, const T* A, std::size_t rsa, std::size_t csa, const T* B, std::size_t ldb,
                T* C, std::size_t ldc, bool accumulate) {
  // 8 rows × 2 vectors, 16 accumulators, where there are 32 registers (measured best of 6, 8 and 12 with
  // AVX-512); 6 rows, 12 accumulators, where there are 16 (8 rows would spill).
  constexpr int MR = Vec<T>::registers >= 32 ? 8 : 6;
  std::size_t i = 0;
  for (; i + MR <= M; i += MR) gemm_tile<MR, NV>(K, A + i * rsa, rsa, csa, B, ldb, C + i * ldc, ldc, accumulate);
  if (MR > 4 && i + 4 <= M) {  // the rest in a tile of 4 rows, then row by row
    gemm_tile<4, NV>(K, A + i * rsa, rsa, csa, B, ldb, C + i * ldc, ldc, accumulate);
    i += 4;
  }
  for (; i < M; ++i) gemm_tile<1, NV>(K, A + i * rsa, rsa, csa, B, ldb, C + i * ldc, ldc, accumulate);
}

}  // namespace detail

// N rounded up to whole vectors. A B whose rows have this stride and hold zeros past column N, and a C
// of the same stride, let gemm run every column as a whole vector straight from B: nothing copied, no
// scratch (the columns past N of C get A·0). The convolutions' columns and tiles are laid out so.
template <class T>
constexpr std::size_t gemm_whole_vectors(std::size_t N) {
  constexpr std::size_t L = detail::Vec<T>::lanes;
  return (N + L - 1) / L * L;
}

// Elements of scratch an M×N×K product needs for its ragged last columns (zero-padded panels).
template <class T>
constexpr std::size_t gemm_scratch(std::size_t M, std::size_t K) {
  return (K + M) * 2 * std::size_t(detail::Vec<T>::lanes);
}

// C[M×N] = A·B, or C += A·B when `accumulate`. A is M×K with element (i, k) at A[i·rsa + k·csa] (so Aᵀ
// of a row-major matrix is rsa = 1, csa = its row length); B is K×N row-major with row stride ldb; C
// row-major with row stride ldc. Writes only C's M×N elements. `scratch` (gemm_scratch<T>(M, K)
// elements) holds the padded last columns; without it a thread-local buffer is used, which allocates
// the first time each thread needs it.
template <class T>
void gemm_strided(std::size_t M, std::size_t N, std::size_t K, const T* A, std::size_t rsa, std::size_t csa, const T* B,
                  std::size_t ldb, T* C, std::size_t ldc, bool accumulate = false, T* scratch = nullptr) {
  PARCNN_CHECK_SCALAR(T);
  constexpr std::size_t L = detail::Vec<T>::lanes;
  if (M == 0 || N == 0) return;
  std::size_t j = 0;
  for (; j + 2 * L <= N; j += 2 * L) detail::gemm_panel<2>(M, K, A, rsa, csa, B + j, ldb, C + j, ldc, accumulate);
  if (j == N) return;
  if (N - j == L) {  // one whole vector left: no copy needed
    detail::gemm_panel<1>(M, K, A, rsa, csa, B + j, ldb, C + j, ldc, accumulate);
    return;
  }
  // The last columns: copy them into a zero-padded panel, one or two vectors wide, so that they run
  // through the same vector code as every other column; copy the results back.
  const std::size_t w = N - j, width = w <= L ? L : 2 * L;
  if (!scratch) {
    thread_local std::vector<T> fallback;
    fallback.resize(std::max(fallback.size(), gemm_scratch<T>(M, K)));
    scratch = fallback.data();
  }
  T* b_pad = scratch;
  T* c_pad = scratch + K * width;
  std::fill_n(b_pad, K * width, T(0));
  std::fill_n(c_pad, M * width, T(0));
  for (std::size_t k = 0; k < K; ++k) std::copy(B + k * ldb + j, B + k * ldb + N, b_pad + k * width);
  if (accumulate)
    for (std::size_t i = 0; i < M; ++i) std::copy(C + i * ldc + j, C + i * ldc + N, c_pad + i * width);
  if (width == L)
    detail::gemm_panel<1>(M, K, A, rsa, csa, b_pad, width, c_pad, width, accumulate);
  else
    detail::gemm_panel<2>(M, K, A, rsa, csa, b_pad, width, c_pad, width, accumulate);
  for (std::size_t i = 0; i < M; ++i) std::copy(c_pad + i * width, c_pad + i * width + w, C + i * ldc + j);
}

// Row-major A (row stride lda) times row-major B.
template <class T>
void gemm(std::size_t M, std::size_t N, std::size_t K, const T* A, std::size_t lda, const T* B, std::size_t ldb, T* C,
          std::size_t ldc, bool accumulate = false, T* scratch = nullptr) {
  gemm_strided(M, N, K, A, lda, std::size_t{1}, B, ldb, C, ldc, accumulate, scratch);
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
