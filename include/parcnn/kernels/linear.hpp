// parcnn/kernels/linear.hpp — y = x Wᵀ + b for a block of rows and output features, its backward, and
// its reference.
//
// The forward pass reads W in its stored layout [out, in]: each output is a dot product of an input row
// and a weight row, both contiguous along k. Earlier it ran as X·Wᵀ on a transposed copy of W, and at
// batch 1 laying out that copy cost ten times the product itself (fc1 of the letter CNN: 42 µs against
// 4 µs now). Every output element is summed the same way wherever it falls — lanes of a vector chain
// over k, a fixed halving tree across the lanes, then the last K mod lanes products in order — so a
// block of rows or of features gives the same bits as the whole.

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "parcnn/core/range.hpp"
#include "parcnn/kernels/gemm_backend.hpp"

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

// Rows (and features) of the forward's register tile: blocks of fewer rows leave it part empty.
inline constexpr std::size_t linear_tile_rows = 4;

namespace detail {

// The lanes of v summed by halving: lane i += lane i + W/2, for W = lanes, lanes/2, …, 2. Written with
// vectors of half the width each step, so that it compiles to a few extracts and adds.
template <class T, int W, class V>
inline T halving_sum(const V& v) {
  if constexpr (W == 1) {
    T s;
    std::memcpy(&s, &v, sizeof s);
    return s;
  } else {
    typedef T Half __attribute__((vector_size(W / 2 * sizeof(T))));
    Half lo, hi;
    std::memcpy(&lo, &v, sizeof lo);
    std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof lo, sizeof hi);
    return halving_sum<T, W / 2>(Half(lo + hi));
  }
}

// Pins a loaded vector to a register. Without it GCC folds the load into every FMA that uses the
// vector, which doubles the loads per FMA and halved this kernel's speed at batch 64 (measured).
template <class V>
inline void keep_in_register(V& v) {
#if PARCNN_TARGET_AVX512 && (defined(__GNUC__) || defined(__clang__))  // a 64-byte vector fits one register
  asm("" : "+v"(v));
#else
  (void)v;
#endif
}

// MR rows of x against NR rows of w: C[r][c] = Σ_k x[r][k]·w[c][k], summed as the header describes.
template <int MR, int NR, class T>
inline void dot_tile(std::size_t K, const T* x, std::size_t ldx, const T* w, std::size_t ldw, T* y, std::size_t ldy,
                     const T* bias) {
  using V = typename Vec<T>::type;
  constexpr int L = Vec<T>::lanes;
  V acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r][c] = V{};
  const std::size_t Kv = K / L * L;
  for (std::size_t k = 0; k < Kv; k += L) {
    V xv[MR];
    for (int r = 0; r < MR; ++r) {
      xv[r] = load(x + r * ldx + k);
      keep_in_register(xv[r]);
    }
    for (int c = 0; c < NR; ++c) {  // one weight vector at a time: MR + 1 registers of operands
      V wv = load(w + c * ldw + k);
      keep_in_register(wv);
      for (int r = 0; r < MR; ++r) acc[r][c] = xv[r] * wv + acc[r][c];
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) {
      T s = halving_sum<T, L>(acc[r][c]);
      for (std::size_t k = Kv; k < K; ++k) s = x[r * ldx + k] * w[c * ldw + k] + s;
      y[r * ldy + c] = bias ? s + bias[c] : s;
    }
}

// All rows × features of a block, in register tiles of 4 × 4 with narrower tiles at the edges.
template <class T>
void dot_rows(std::size_t M, std::size_t N, std::size_t K, const T* x, std::size_t ldx, const T* w, std::size_t ldw,
              T* y, std::size_t ldy, const T* bias) {
  constexpr std::size_t R = linear_tile_rows;
  std::size_t i = 0;
  for (; i + R <= M; i += R) {
    std::size_t j = 0;
    for (; j + R <= N; j += R)
      dot_tile<R, R>(K, x + i * ldx, ldx, w + j * ldw, ldw, y + i * ldy + j, ldy, bias ? bias + j : nullptr);
    for (; j < N; ++j) dot_tile<R, 1>(K, x + i * ldx, ldx, w + j * ldw, ldw, y + i * ldy + j, ldy, bias ? bias + j : nullptr);
  }
  for (; i < M; ++i) {
    std::size_t j = 0;
    for (; j + R <= N; j += R)
      dot_tile<1, R>(K, x + i * ldx, ldx, w + j * ldw, ldw, y + i * ldy + j, ldy, bias ? bias + j : nullptr);
    for (; j < N; ++j) dot_tile<1, 1>(K, x + i * ldx, ldx, w + j * ldw, ldw, y + i * ldy + j, ldy, bias ? bias + j : nullptr);
  }
}

}  // namespace detail

// Rows `rows` × output features `features` of y [N, out] from x [N, in], weight [out, in] (PyTorch's
// layout, as stored) and bias [out] (or null); by Eigen's product with GemmBackend::eigen.
template <class T>
void linear_forward(const T* x, const T* weight, const T* bias, std::size_t in, std::size_t out, Range rows,
                    Range features, T* y, GemmBackend backend = GemmBackend::parcnn) {
  PARCNN_CHECK_SCALAR(T);
  if (rows.size() == 0 || features.size() == 0) return;
  if (backend == GemmBackend::eigen)
    return linear_eigen(x, weight, bias, in, out, rows.begin, rows.size(), features.begin, features.size(), y);
  detail::dot_rows(rows.size(), features.size(), in, x + rows.begin * in, in, weight + features.begin * in, in,
                   y + rows.begin * out + features.begin, out, bias ? bias + features.begin : nullptr);
}

// Backward of rows `rows` (one gradient chunk): adds Σ_n dy[n]ᵀ x[n] into dweight [out, in] and Σ_n dy[n]
// into dbias (if not null), images in order; writes dx[rows] = dy[rows] · W (if dx is not null).
// scratch: gemm_scratch<T>(out, rows.size()) elements (enough for both products).
template <class T>
void linear_backward(const T* x, const T* weight, const T* dy, std::size_t in, std::size_t out, Range rows, T* dweight,
                     T* dbias, T* dx, T* scratch) {
  const std::size_t n = rows.size();
  if (n == 0) return;
  const T* g = dy + rows.begin * out;
  gemm_strided(out, in, n, g, std::size_t{1}, out, x + rows.begin * in, in, dweight, in, /*accumulate=*/true, scratch);
  if (dbias)
    for (std::size_t o = 0; o < out; ++o) {
      T sum = dbias[o];
      for (std::size_t r = 0; r < n; ++r) sum += g[r * out + o];
      dbias[o] = sum;
    }
  if (dx) gemm(n, in, out, g, out, weight, in, dx + rows.begin * in, in, false, scratch);
}

// The oracle: a whole batch [batch, in] → [batch, out] with a wider accumulator.
template <class T>
void linear_forward_reference(const T* x, const T* weight, const T* bias, std::size_t batch, std::size_t in,
                              std::size_t out, T* y) {
  using Acc = std::conditional_t<std::is_same_v<T, float>, double, long double>;
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t o = 0; o < out; ++o) {
      Acc sum = 0;
      for (std::size_t i = 0; i < in; ++i) sum += Acc(weight[o * in + i]) * Acc(x[n * in + i]);
      y[n * out + o] = T(sum + (bias ? Acc(bias[o]) : Acc(0)));
    }
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
