// parcnn/kernels/conv2d.hpp — 2-D convolution: im2col + GEMM over a block, straight into the output or
// through a tile and an epilogue (bias, then post-ops; kernels/epilogue.hpp), several images per GEMM
// when their maps are small; the backward pass; and the plain-loop reference every test compares against.
//
// Weight [out_c, in_c, k_h, k_w] is, row-major, the GEMM's A = [out_c, K]. For a block of output
// channels [c0, c1) and output positions P: y[c0:c1, P] = A[c0:c1, :] · cols[:, P] + bias.

#include <cstddef>
#include <type_traits>

#include "parcnn/kernels/conv2d_geometry.hpp"
#include "parcnn/kernels/gemm_backend.hpp"
#include "parcnn/core/range.hpp"

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

// Scratch elements conv2d_forward_im2col needs for a block of `rows` × `cols` output positions.
template <class T>
std::size_t conv2d_im2col_scratch(const Conv2dGeometry& g, std::size_t channels, std::size_t rows, std::size_t cols) {
  const std::size_t positions = rows * cols;
  const bool full_rows = cols == g.out_w;
  return g.patch() * positions + (full_rows ? 0 : channels * positions) + gemm_scratch<T>(channels, g.patch());
}

namespace detail {
template <class T>
void add_bias(const T* bias, Range channels, std::size_t count, T* y, std::size_t ld) {
  if (!bias) return;
  for (std::size_t c = channels.begin; c < channels.end; ++c) {
    T* row = y + (c - channels.begin) * ld;
    const T b = bias[c];
    for (std::size_t i = 0; i < count; ++i) row[i] += b;
  }
}

// C[M×N] = A·B by the chosen backend (kernels/gemm_backend.hpp); scratch: gemm_scratch<T>(M, K) for parcnn's.
template <class T>
void matmul(GemmBackend backend, std::size_t M, std::size_t N, std::size_t K, const T* A, std::size_t lda, const T* B,
            std::size_t ldb, T* C, std::size_t ldc, T* scratch) {
  if (backend == GemmBackend::eigen) return gemm_eigen(M, N, K, A, lda, B, ldb, C, ldc);
  gemm(M, N, K, A, lda, B, ldb, C, ldc, false, scratch);
}
}  // namespace detail

// Output channels `channels` × rows `rows` × columns `cols` of one image.
// x: the image [in_c, in_h, in_w]; y: its output [out_c, out_h, out_w]; bias may be null;
// scratch: conv2d_im2col_scratch<T>(g, channels.size(), rows.size(), cols.size()) elements. The
// product by `backend` (kernels/gemm_backend.hpp), as for the other forward kernels below.
template <class T>
void conv2d_forward_im2col(const T* x, const T* weight, const T* bias, const Conv2dGeometry& g, Range channels,
                           Range rows, Range cols, T* scratch, T* y, GemmBackend backend = GemmBackend::parcnn) {
  const std::size_t K = g.patch();
  const std::size_t positions = rows.size() * cols.size();
  if (positions == 0 || channels.size() == 0) return;
  T* columns = scratch;
  im2col(x, g, rows, cols, columns, positions);
  const T* a = weight + channels.begin * K;
  const std::size_t P = g.positions();
  if (cols.size() == g.out_w) {  // whole output rows: the block's positions are contiguous in y
    T* out = y + channels.begin * P + rows.begin * g.out_w;
    detail::matmul(backend, channels.size(), positions, K, a, K, columns, positions, out, P, scratch + K * positions);
    detail::add_bias(bias, channels, positions, out, P);
    return;
  }
  T* tile = scratch + K * positions;  // [channels, positions], then scattered row by row into y
  detail::matmul(backend, channels.size(), positions, K, a, K, columns, positions, tile, positions,
                 tile + channels.size() * positions);
  detail::add_bias(bias, channels, positions, tile, positions);
  for (std::size_t c = 0; c < channels.size(); ++c)
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const T* src = tile + c * positions + r * cols.size();
      T* dst = y + (channels.begin + c) * P + (rows.begin + r) * g.out_w + cols.begin;
      std::copy(src, src + cols.size(), dst);
    }
}

// --- stride 1 without columns: each row of the patch matrix is the zero-padded input shifted ---
//
// At stride 1, patch row k = (ci, ky, kx) over output rows [r0, r1) is, in the input padded to
// Wp = in_w + 2·pad_w columns, the run starting at (ci, r0 + ky·dil_h, kx·dil_w), read with the output's
// positions laid out Wp apart instead of out_w (the Wp − out_w positions past each row's end are
// computed and dropped). So the GEMM reads B straight from the padded rows: im2col's copy of every
// input value k_h·k_w times becomes one padded copy. Each output is the same chain over k as
// conv2d_forward_im2col's, so the same bits.

// The longest patch the padded-rows path takes. Its B rows start at K scattered places in the padded
// input where im2col's are one stream: on long patches im2col + GEMM measured faster, on short ones
// (the small ResNet's) the columns it saves win (docs/design.md, "Convolutions without columns").
inline constexpr std::size_t shifted_max_patch = 288;

// Whether conv2d_forward_shifted computes this convolution: stride 1, one group, K ≤ shifted_max_patch.
inline bool conv2d_shifted_fits(const Conv2dGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.groups == 1 && g.patch() <= shifted_max_patch;
}

namespace detail {
struct ShiftedLayout {
  std::size_t wp, rows_in, plane, n, ld, padded;  // padded row length, rows, a channel's plane, N, ld of C, xpad size

  ShiftedLayout(const Conv2dGeometry& g, std::size_t rows, std::size_t lanes)
      : wp(g.in_w + 2 * g.pad_w),
        rows_in(rows + (g.k_h - 1) * g.dil_h),
        plane(rows_in * wp),
        n((rows - 1) * wp + g.out_w),
        ld((n + lanes - 1) / lanes * lanes),
        // the last patch row reads up to (k_h − 1)·dil_h·wp + (k_w − 1)·dil_w + ld past its channel's start
        padded((g.in_c - 1) * plane + (g.k_h - 1) * g.dil_h * wp + (g.k_w - 1) * g.dil_w + ld) {}
};

// The padded input rows output rows `rows` read (ShiftedLayout), then zeros to the end of the layout.
// Zeros first, in one fill, then the input rows a vector at a time: a row is short (28 values in the
// small ResNet), and three calls per row to fill and copy cost more than the values they move.
template <class T>
void pad_rows(const T* x, const Conv2dGeometry& g, const ShiftedLayout& s, Range rows, T* xpad) {
  std::fill(xpad, xpad + std::max(s.padded, g.in_c * s.plane), T(0));
  // The padded rows [first, last) hold input rows; the others stay zero.
  const std::size_t first = rows.begin < g.pad_h ? g.pad_h - rows.begin : 0;
  const std::size_t last = std::min(s.rows_in, g.in_h + g.pad_h > rows.begin ? g.in_h + g.pad_h - rows.begin : 0);
  // The layout in locals: the copies may alias anything, and g's and s's fields would be read again per row.
  const std::size_t in_c = g.in_c, in_h = g.in_h, in_w = g.in_w, pad_h = g.pad_h, pad_w = g.pad_w, plane = s.plane,
                    wp = s.wp;
  for (std::size_t ci = 0; ci < in_c; ++ci)
    for (std::size_t r = first; r < last; ++r)
      copy_row(xpad + ci * plane + r * wp + pad_w, x + (ci * in_h + rows.begin + r - pad_h) * in_w, in_w, /*slack=*/false);
}
// MR rows × NV vectors of C over all of K = (ci, ky, kx) in order, B's row k read at
// B + ci·plane + ky·dil_h·wp + kx·dil_w: gemm_tile's chain with im2col's rows found in place.
// KW: the kernel's width when known at compile time (3, undilated), else 0 (g.k_w, g.dil_w).
template <int MR, int NV, int KW, class T>
inline void shifted_tile(const Conv2dGeometry& g, const ShiftedLayout& s, const T* A, const T* B, T* C) {
  using V = typename Vec<T>::type;
  constexpr int L = Vec<T>::lanes;
  const std::size_t K = g.patch(), kw = KW ? std::size_t(KW) : g.k_w, dw = KW ? 1 : g.dil_w;
  V c[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) c[r][v] = V{};
  std::size_t k = 0;
  for (std::size_t ci = 0; ci < g.in_c; ++ci)
    for (std::size_t ky = 0; ky < g.k_h; ++ky) {
      const T* row = B + ci * s.plane + ky * g.dil_h * s.wp;
      for (std::size_t kx = 0; kx < kw; ++kx, ++k) {
        V b[NV];
        for (int v = 0; v < NV; ++v) b[v] = load(row + kx * dw + v * L);
        for (int r = 0; r < MR; ++r) {
          const T a = A[r * K + k];
          for (int v = 0; v < NV; ++v) c[r][v] = a * b[v] + c[r][v];
        }
      }
    }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) store(C + r * s.ld + v * L, c[r][v]);
}

// The tile with the undilated 3-wide kernel's loop unrolled (its taps at constant offsets), else the general one.
template <int MR, int NV, class T>
inline void shifted_tile(const Conv2dGeometry& g, const ShiftedLayout& s, const T* A, const T* B, T* C) {
  if (g.k_w == 3 && g.dil_w == 1)
    shifted_tile<MR, NV, 3>(g, s, A, B, C);
  else
    shifted_tile<MR, NV, 0>(g, s, A, B, C);
}

// All M rows of one column panel NV vectors wide, in gemm_panel's tiles.
template <int NV, class T>
void shifted_panel(std::size_t M, const Conv2dGeometry& g, const ShiftedLayout& s, const T* A, const T* B, T* C) {
  constexpr int MR = Vec<T>::registers >= 32 ? 8 : 6;
  const std::size_t K = g.patch();
  std::size_t i = 0;
  for (; i + MR <= M; i += MR) shifted_tile<MR, NV>(g, s, A + i * K, B, C + i * s.ld);
  if (MR > 4 && i + 4 <= M) {
    shifted_tile<4, NV>(g, s, A + i * K, B, C + i * s.ld);
    i += 4;
  }
  for (; i < M; ++i) shifted_tile<1, NV>(g, s, A + i * K, B, C + i * s.ld);
}
}  // namespace detail

// Scratch elements conv2d_forward_shifted needs for `channels` output channels × `rows` output rows.
template <class T>
std::size_t conv2d_shifted_scratch(const Conv2dGeometry& g, std::size_t channels, std::size_t rows) {
  const detail::ShiftedLayout s(g, std::max<std::size_t>(rows, 1), detail::Vec<T>::lanes);
  return std::max(s.padded, g.in_c * s.plane) + channels * s.ld;
}

// Output channels `channels` × whole output rows `rows` of one image (conv2d_shifted_fits(g)), into y
// [out_c, out_h, out_w]; bias may be null. scratch: conv2d_shifted_scratch<T>(g, channels.size(),
// rows.size()) elements: the padded input rows the block reads, then C with Wp-spaced rows.
template <class T>
void conv2d_forward_shifted(const T* x, const T* weight, const T* bias, const Conv2dGeometry& g, Range channels,
                            Range rows, T* scratch, T* y) {
  constexpr std::size_t L = detail::Vec<T>::lanes;
  if (channels.size() == 0 || rows.size() == 0) return;
  const detail::ShiftedLayout s(g, rows.size(), L);
  T* xpad = scratch;
  T* tile = scratch + std::max(s.padded, g.in_c * s.plane);
  detail::pad_rows(x, g, s, rows, xpad);
  const T* a = weight + channels.begin * g.patch();
  std::size_t j = 0;
  for (; j + 2 * L <= s.ld; j += 2 * L) detail::shifted_panel<2>(channels.size(), g, s, a, xpad + j, tile + j);
  if (j < s.ld) detail::shifted_panel<1>(channels.size(), g, s, a, xpad + j, tile + j);
  const std::size_t P = g.positions(), out_w = g.out_w, ld = s.ld, wp = s.wp;  // locals: the copies may alias anything
  for (std::size_t c = 0; c < channels.size(); ++c) {
    const T b = bias ? bias[channels.begin + c] : T(0);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const T* src = tile + c * ld + r * wp;
      T* dst = y + (channels.begin + c) * P + (rows.begin + r) * out_w;
      if (bias)
        for (std::size_t i = 0; i < out_w; ++i) dst[i] = src[i] + b;
      else
        detail::copy_row(dst, src, out_w, /*slack=*/false);
    }
  }
}

// Output channels `channels` of one image from its complete columns [K, positions] (row stride ld),
// built once and shared by every channel block. scratch: gemm_scratch<T>(channels.size(), K) elements.
template <class T>
void conv2d_forward_columns(const T* columns, std::size_t ld, const T* weight, const T* bias, const Conv2dGeometry& g,
                            Range channels, T* scratch, T* y, GemmBackend backend = GemmBackend::parcnn) {
  const std::size_t K = g.patch(), P = g.positions();
  if (channels.size() == 0) return;
  T* out = y + channels.begin * P;
  detail::matmul(backend, channels.size(), P, K, weight + channels.begin * K, K, columns, ld, out, P, scratch);
  detail::add_bias(bias, channels, P, out, P);
}

// With an epilogue (kernels/epilogue.hpp), blocks are cut in the epilogue's output: rows and columns of
// the pooled maps when it pools. Its shape per image is [out_c, out_h / f, out_w / f], f = e.reduction().
inline std::size_t epilogue_out_h(const Conv2dGeometry& g, const PostOps& e) { return g.out_h / e.reduction(); }
inline std::size_t epilogue_out_w(const Conv2dGeometry& g, const PostOps& e) { return g.out_w / e.reduction(); }

// Scratch elements conv2d_forward_epilogue needs for blocks of `images` images × `channels` × `rows` ×
// `cols` epilogue outputs: the columns and the GEMM's tile, both gemm_whole_vectors wide.
template <class T>
std::size_t conv2d_epilogue_scratch(const Conv2dGeometry& g, const PostOps& e, std::size_t channels,
                                    std::size_t images, std::size_t rows, std::size_t cols) {
  const std::size_t f = e.reduction(), positions = images * (f * rows) * (f * cols);
  return (g.patch() + channels) * gemm_whole_vectors<T>(positions);
}

namespace detail {
// Zeros columns [n, ld) of K rows of stride ld: the columns gemm_whole_vectors adds.
template <class T>
void zero_padding_columns(T* columns, std::size_t K, std::size_t n, std::size_t ld) {
  if (n < ld)
    for (std::size_t k = 0; k < K; ++k) std::fill(columns + k * ld + n, columns + (k + 1) * ld, T(0));
}

// W[channels] · columns into a tile in scratch, then the epilogue of every image and channel from it.
// columns: [K, images·Q] with row stride ld = gemm_whole_vectors(images·Q) and zeros past images·Q;
// image i's Q = conv_rows × conv_cols positions at i·Q. With `record` (a pooled epilogue), also what a
// training pass keeps (EpilogueRecord), laid out as y.
template <class T>
void gemm_then_epilogue(const T* columns, std::size_t ld, std::size_t images, std::size_t conv_rows,
                        std::size_t conv_cols, const T* weight, const T* bias, const Conv2dGeometry& g,
                        const PostOps& e, Range channels, Range rows, Range cols, T* scratch, T* y,
                        EpilogueRecord<T> record, GemmBackend backend) {
  const std::size_t K = g.patch(), Q = conv_rows * conv_cols, f = e.reduction();
  const std::size_t eh = epilogue_out_h(g, e), ew = epilogue_out_w(g, e), out_image = g.out_c * eh * ew;
  const std::size_t origin = f * rows.begin * g.out_w + f * cols.begin;  // the tile's first output in the map
  T* tile = scratch;  // [channels, ld]: whole vectors, so the GEMM copies nothing
  detail::matmul(backend, channels.size(), ld, K, weight + channels.begin * K, K, columns, ld, tile, ld,
                 static_cast<T*>(nullptr));
  for (std::size_t i = 0; i < images; ++i) {
    const std::size_t first = i * out_image + (channels.begin * eh + rows.begin) * ew + cols.begin;
    T* block = y + first;
    const EpilogueRecord<T> r = record.at(first);
    std::uint32_t* pos = r.positions;
    T* pooled = pos && e.has_elementwise() ? r.pooled : block;
    for (std::size_t c = 0; c < channels.size(); ++c)
      epilogue_bias_and_pool(e, tile + c * ld + i * Q, conv_rows, conv_cols, bias ? bias + channels.begin + c : nullptr,
                             pooled + c * eh * ew, ew, pos ? pos + c * eh * ew : nullptr, g.out_w, origin);
    epilogue_elementwise(e, pooled, block, channels.size(), eh * ew, rows.size(), cols.size(), ew);
  }
}
}  // namespace detail

// Output channels `channels` × rows `rows` × columns `cols` of the epilogue's output of `images`
// consecutive images: the convolution outputs these read (with a pool, rows [2·rows.begin, 2·rows.end)
// and likewise columns; nothing else), every image's columns side by side in one GEMM, then the
// epilogue per image and channel while the tile is in cache. x: the first image; y: the first image's
// epilogue output. scratch: conv2d_epilogue_scratch<T>(g, e, channels.size(), images, rows.size(),
// cols.size()) elements. With `record` (a pooled epilogue only), also what a training pass keeps
// (EpilogueRecord), laid out as y.
template <class T>
void conv2d_forward_epilogue(const T* x, std::size_t images, const T* weight, const T* bias, const Conv2dGeometry& g,
                             const PostOps& e, Range channels, Range rows, Range cols, T* scratch, T* y,
                             EpilogueRecord<T> record = {}, GemmBackend backend = GemmBackend::parcnn) {
  const std::size_t f = e.reduction();
  const Range conv_rows{f * rows.begin, f * rows.end}, conv_cols{f * cols.begin, f * cols.end};
  const std::size_t Q = conv_rows.size() * conv_cols.size(), ld = gemm_whole_vectors<T>(images * Q);
  if (Q == 0 || images == 0 || channels.size() == 0) return;
  T* columns = scratch;
  for (std::size_t i = 0; i < images; ++i) im2col(x + i * g.in_image(), g, conv_rows, conv_cols, columns + i * Q, ld);
  detail::zero_padding_columns(columns, g.patch(), images * Q, ld);
  detail::gemm_then_epilogue(columns, ld, images, conv_rows.size(), conv_cols.size(), weight, bias, g, e, channels,
                             rows, cols, scratch + g.patch() * ld, y, record, backend);
}

// The row stride of one image's columns for its whole epilogue output: (f·eh)·(f·ew) positions in
// whole vectors.
template <class T>
std::size_t epilogue_columns_stride(const Conv2dGeometry& g, const PostOps& e) {
  const std::size_t f = e.reduction();
  return gemm_whole_vectors<T>(f * epilogue_out_h(g, e) * f * epilogue_out_w(g, e));
}

// The columns of one image that its whole epilogue output reads: [K, epilogue_columns_stride], zeros
// past its positions.
template <class T>
void im2col_for_epilogue(const T* x, const Conv2dGeometry& g, const PostOps& e, T* columns) {
  const std::size_t f = e.reduction(), ld = epilogue_columns_stride<T>(g, e);
  const Range rows{0, f * epilogue_out_h(g, e)}, cols{0, f * epilogue_out_w(g, e)};
  im2col(x, g, rows, cols, columns, ld);
  detail::zero_padding_columns(columns, g.patch(), rows.size() * cols.size(), ld);
}

// Output channels `channels` of one image's whole epilogue output from its columns (im2col_for_epilogue),
// built once and shared by every channel block. scratch: conv2d_epilogue_scratch<T>(g, e, channels.size(),
// 1, eh, ew) elements (the columns' part unused). `record` as for conv2d_forward_epilogue.
template <class T>
void conv2d_forward_epilogue_columns(const T* columns, const T* weight, const T* bias, const Conv2dGeometry& g,
                                     const PostOps& e, Range channels, T* scratch, T* y,
                                     EpilogueRecord<T> record = {}, GemmBackend backend = GemmBackend::parcnn) {
  const std::size_t f = e.reduction(), eh = epilogue_out_h(g, e), ew = epilogue_out_w(g, e);
  if (channels.size() == 0 || eh == 0 || ew == 0) return;
  detail::gemm_then_epilogue(columns, epilogue_columns_stride<T>(g, e), 1, f * eh, f * ew, weight, bias, g, e, channels,
                             Range{0, eh}, Range{0, ew}, scratch, y, record, backend);
}

namespace detail {
// The sum of n values in a fixed order: a vector of partial sums over whole vectors, its lanes added
// first to last, then the rest in order — not one chain of n additions, each waiting for the one
// before (docs/performance.md, "The kernels' constants").
template <class T>
T image_sum(const T* v, std::size_t n) {
  using V = typename Vec<T>::type;
  constexpr std::size_t L = Vec<T>::lanes;
  V acc{};
  std::size_t i = 0;
  for (; i + L <= n; i += L) acc = acc + load(v + i);
  T sum = T(0);
  for (std::size_t l = 0; l < L; ++l) sum += acc[l];
  for (; i < n; ++i) sum += v[i];
  return sum;
}
}  // namespace detail


namespace detail {
// MR taps × NV vectors of output channels of dWᵀ (row stride ldo), added to over the positions of one
// image in order: A(tap, p) read in the padded input rows at `taps[i]` + p's padded position, B = dYᵀ.
template <int MR, int NV, class T>
inline void weight_gradient_tile(const Conv2dGeometry& g, const ShiftedLayout& s, const T* xpad,
                                 const std::size_t* taps, const T* dyt, std::size_t ldo, T* acc) {
  using V = typename Vec<T>::type;
  constexpr int L = Vec<T>::lanes;
  V c[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) c[r][v] = load(acc + r * ldo + v * L);
  const T* at[MR];
  for (int r = 0; r < MR; ++r) at[r] = xpad + taps[r];
  for (std::size_t oh = 0; oh < g.out_h; ++oh)
    for (std::size_t ow = 0; ow < g.out_w; ++ow, dyt += ldo) {
      const std::size_t q = oh * s.wp + ow;
      V b[NV];
      for (int v = 0; v < NV; ++v) b[v] = load(dyt + v * L);
      for (int r = 0; r < MR; ++r) {
        const T a = at[r][q];
        for (int v = 0; v < NV; ++v) c[r][v] = a * b[v] + c[r][v];
      }
    }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) store(acc + r * ldo + v * L, c[r][v]);
}

// The offsets in the padded rows of taps [k, k + n) (n ≤ 8).
inline void tap_offsets(const Conv2dGeometry& g, const ShiftedLayout& s, std::size_t k, std::size_t n,
                        std::size_t* taps) {
  for (std::size_t i = 0; i < n; ++i, ++k) {
    const std::size_t kx = k % g.k_w, ky = k / g.k_w % g.k_h, ci = k / (g.k_w * g.k_h);
    taps[i] = ci * s.plane + ky * g.dil_h * s.wp + kx * g.dil_w;
  }
}

template <int NV, class T>
void weight_gradient_panel(const Conv2dGeometry& g, const ShiftedLayout& s, const T* xpad, const T* dyt,
                           std::size_t ldo, T* acc) {
  constexpr int MR = Vec<T>::registers >= 32 ? 8 : 6;
  const std::size_t K = g.patch();
  std::size_t taps[MR], i = 0;
  for (; i + MR <= K; i += MR) {
    tap_offsets(g, s, i, MR, taps);
    weight_gradient_tile<MR, NV>(g, s, xpad, taps, dyt, ldo, acc + i * ldo);
  }
  if (MR > 4 && i + 4 <= K) {
    tap_offsets(g, s, i, 4, taps);
    weight_gradient_tile<4, NV>(g, s, xpad, taps, dyt, ldo, acc + i * ldo);
    i += 4;
  }
  for (; i < K; ++i) {
    tap_offsets(g, s, i, 1, taps);
    weight_gradient_tile<1, NV>(g, s, xpad, taps, dyt, ldo, acc + i * ldo);
  }
}

}  // namespace detail

// Scratch elements conv2d_weight_gradient_shifted needs.
template <class T>
std::size_t conv2d_weight_gradient_shifted_scratch(const Conv2dGeometry& g) {
  const detail::ShiftedLayout s(g, g.out_h, detail::Vec<T>::lanes);
  const std::size_t ldo = gemm_whole_vectors<T>(g.out_c);
  return std::max(s.padded, g.in_c * s.plane) + (g.positions() + g.patch()) * ldo;
}

// dweight [out_c, K] += dY · colsᵀ over `images` consecutive images at stride 1 (conv2d_shifted_fits),
// without columns: each image's padded input rows, as conv2d_forward_shifted reads them, against dYᵀ.
// Each element is the chain conv2d_backward's GEMM computes — images, then positions, in order — so the
// same bits. scratch: conv2d_weight_gradient_shifted_scratch<T>(g) elements.
template <class T>
void conv2d_weight_gradient_shifted(const T* x, std::size_t images, const T* dy, const Conv2dGeometry& g, T* dweight,
                                    T* scratch) {
  constexpr std::size_t L = detail::Vec<T>::lanes;
  const detail::ShiftedLayout s(g, g.out_h, L);
  const std::size_t K = g.patch(), P = g.positions(), ldo = gemm_whole_vectors<T>(g.out_c);
  T* xpad = scratch;
  T* dyt = xpad + std::max(s.padded, g.in_c * s.plane);  // dYᵀ [P, ldo], zeros past out_c
  T* acc = dyt + P * ldo;                                 // dWᵀ [K, ldo]
  for (std::size_t k = 0; k < K; ++k) {
    for (std::size_t co = 0; co < g.out_c; ++co) acc[k * ldo + co] = dweight[co * K + k];
    std::fill(acc + k * ldo + g.out_c, acc + (k + 1) * ldo, T(0));
  }
  for (std::size_t p = 0; p < P; ++p) std::fill(dyt + p * ldo + g.out_c, dyt + (p + 1) * ldo, T(0));
  for (std::size_t i = 0; i < images; ++i) {
    detail::pad_rows(x + i * g.in_image(), g, s, Range{0, g.out_h}, xpad);
    const T* dyi = dy + i * g.out_image();
    if (ldo == g.out_c)
      transpose(dyi, g.out_c, P, dyt);
    else
      for (std::size_t co = 0; co < g.out_c; ++co)
        for (std::size_t p = 0; p < P; ++p) dyt[p * ldo + co] = dyi[co * P + p];
    std::size_t j = 0;
    for (; j + 2 * L <= ldo; j += 2 * L) detail::weight_gradient_panel<2>(g, s, xpad, dyt + j, ldo, acc + j);
    if (j < ldo) detail::weight_gradient_panel<1>(g, s, xpad, dyt + j, ldo, acc + j);
  }
  for (std::size_t co = 0; co < g.out_c; ++co)
    for (std::size_t k = 0; k < K; ++k) dweight[co * K + k] = acc[k * ldo + co];
}

namespace detail {
// At stride 1, dx is itself a convolution at stride 1: of dY, padded by dil·(k − 1) − pad, with the
// weight flipped in both kernel axes and its channel axes swapped (W'[ci, co, ky, kx] =
// W[co, ci, k_h − 1 − ky, k_w − 1 − kx]). conv2d_forward_shifted runs it: chains of out_c·k_h·k_w
// multiply-adds instead of out_c, and no col2im. Where pad ≤ dil·(k − 1) (every "same" or "valid"
// convolution).
inline bool input_gradient_shifted_fits(const Conv2dGeometry& g) {
  return conv2d_shifted_fits(g) && g.pad_h <= g.dil_h * (g.k_h - 1) && g.pad_w <= g.dil_w * (g.k_w - 1);
}

inline Conv2dGeometry input_gradient_geometry(const Conv2dGeometry& g) {
  Conv2dGeometry t = g;
  t.in_c = g.out_c, t.in_h = g.out_h, t.in_w = g.out_w;
  t.out_c = g.in_c, t.out_h = g.in_h, t.out_w = g.in_w;
  t.pad_h = g.dil_h * (g.k_h - 1) - g.pad_h;
  t.pad_w = g.dil_w * (g.k_w - 1) - g.pad_w;
  return t;
}

// conv2d_backward's scratch: the columns, dYᵀ and dWᵀ — or, at stride 1, what
// conv2d_weight_gradient_shifted needs, if more — then dY as [out_c, images·P], then the GEMMs' panels.
template <class T>
std::size_t backward_front(const Conv2dGeometry& g, std::size_t cols) {
  std::size_t front = g.patch() * cols + g.out_c * cols + g.patch() * g.out_c;
  if (conv2d_shifted_fits(g)) front = std::max(front, conv2d_weight_gradient_shifted_scratch<T>(g));
  if (input_gradient_shifted_fits(g)) {
    const Conv2dGeometry t = input_gradient_geometry(g);
    front = std::max(front, t.out_c * t.patch() + conv2d_shifted_scratch<T>(t, t.out_c, t.out_h));
  }
  return front;
}
}  // namespace detail

// Scratch elements conv2d_backward needs for `images` images.
template <class T>
std::size_t conv2d_backward_scratch(const Conv2dGeometry& g, std::size_t images) {
  const std::size_t cols = images * g.positions();
  return detail::backward_front<T>(g, cols) + g.out_c * cols +
         std::max(gemm_scratch<T>(g.patch(), cols), gemm_scratch<T>(g.patch(), g.out_c));
}

// Backward of `images` consecutive images of one gradient chunk, their positions side by side
// (cols = [K, images·P]). Adds their weight gradient into dweight [out_c, K] and bias gradient into dbias
// (if not null); writes their input gradients into dx (if not null):
//   dW += dY · colsᵀ      dcols = Wᵀ · dY      dx = col2im(dcols)
// Each weight-gradient element is one chain over images, then positions, in order (at stride 1 without
// columns: conv2d_weight_gradient_shifted); each bias-gradient element adds the images in order, each
// image's positions summed by detail::image_sum. Either way the bits are those of one image at a time,
// and do not depend on how many images run together.
template <class T>
void conv2d_backward(const T* x, std::size_t images, const T* weight, const T* dy, const Conv2dGeometry& g, T* dweight,
                     T* dbias, T* dx, T* scratch) {
  const std::size_t K = g.patch(), P = g.positions(), cols = images * P;
  T* columns = scratch;
  T* dy_t = scratch + K * cols;    // dYᵀ [images·P, out_c]
  T* dw_t = dy_t + g.out_c * cols;  // dWᵀ [K, out_c]
  T* dy_cols = scratch + detail::backward_front<T>(g, cols);  // dY as [out_c, images·P]
  T* pad = dy_cols + g.out_c * cols;
  const bool shifted = conv2d_shifted_fits(g);
  const bool need_dy_cols = !shifted || (dx && !detail::input_gradient_shifted_fits(g));  // for a GEMM's B
  for (std::size_t i = 0; i < images; ++i) {
    if (!shifted) im2col(x + i * g.in_image(), g, Range{0, g.out_h}, Range{0, g.out_w}, columns + i * P, cols);
    if (need_dy_cols)
      for (std::size_t co = 0; co < g.out_c; ++co)
        std::copy(dy + i * g.out_image() + co * P, dy + i * g.out_image() + (co + 1) * P, dy_cols + co * cols + i * P);
  }
  if (shifted) {
    conv2d_weight_gradient_shifted(x, images, dy, g, dweight, scratch);
  } else {
    // dWᵀ += columns · dYᵀ: each element the chain dW += dY·colsᵀ computes (a product's factors
    // swapped, the same bits), with dY transposed (out_c rows) rather than the columns (K rows).
    transpose(dy_cols, g.out_c, cols, dy_t);
    transpose(dweight, g.out_c, K, dw_t);
    gemm(K, g.out_c, cols, columns, cols, dy_t, g.out_c, dw_t, g.out_c, /*accumulate=*/true, pad);
    transpose(dw_t, K, g.out_c, dweight);
  }
  if (dbias)
    for (std::size_t co = 0; co < g.out_c; ++co) {
      T sum = dbias[co];
      for (std::size_t i = 0; i < images; ++i) sum += detail::image_sum(dy + i * g.out_image() + co * P, P);
      dbias[co] = sum;
    }
  if (!dx) return;
  if (detail::input_gradient_shifted_fits(g)) {
    const Conv2dGeometry t = detail::input_gradient_geometry(g);
    T* flipped = scratch;  // W' [in_c, out_c, k_h, k_w]
    const std::size_t taps = g.k_h * g.k_w;
    for (std::size_t co = 0; co < g.out_c; ++co)
      for (std::size_t ci = 0; ci < g.in_c; ++ci)
        for (std::size_t k = 0; k < taps; ++k)
          flipped[(ci * g.out_c + co) * taps + (taps - 1 - k)] = weight[(co * g.in_c + ci) * taps + k];
    for (std::size_t i = 0; i < images; ++i)
      conv2d_forward_shifted(dy + i * g.out_image(), flipped, static_cast<const T*>(nullptr), t, Range{0, t.out_c},
                             Range{0, t.out_h}, flipped + t.out_c * t.patch(), dx + i * g.in_image());
    return;
  }
  gemm_strided(K, cols, g.out_c, weight, std::size_t{1}, K, dy_cols, cols, columns, cols, false, pad);  // Wᵀ · dY
  for (std::size_t i = 0; i < images; ++i) col2im(columns + i * P, cols, g, dx + i * g.in_image());
}

// A grouped convolution (g.groups > 1) as one convolution per group: the output channels `channels`
// × rows `rows` × columns `cols` of the epilogue's output of one image, each group's part of the block
// by conv2d_forward_im2col (no post-ops) or conv2d_forward_epilogue over the group's geometry
// (Conv2dGeometry::group) and its slices of x, weight, bias and y. scratch:
// conv2d_grouped_scratch<T>(g, e, channels.size(), rows.size(), cols.size()) elements.
template <class T>
std::size_t conv2d_grouped_scratch(const Conv2dGeometry& g, const PostOps& e, std::size_t channels, std::size_t rows,
                                   std::size_t cols) {
  const Conv2dGeometry one = g.group();
  const std::size_t c = std::min(channels, one.out_c);
  return e.empty() ? conv2d_im2col_scratch<T>(one, c, rows, cols) : conv2d_epilogue_scratch<T>(one, e, c, 1, rows, cols);
}

template <class T>
void conv2d_forward_grouped(const T* x, const T* weight, const T* bias, const Conv2dGeometry& g, const PostOps& e,
                            Range channels, Range rows, Range cols, T* scratch, T* y,
                            GemmBackend backend = GemmBackend::parcnn) {
  const Conv2dGeometry one = g.group();
  const std::size_t eh = epilogue_out_h(g, e), ew = epilogue_out_w(g, e);
  for (std::size_t j = channels.begin / one.out_c; j * one.out_c < channels.end; ++j) {
    const std::size_t first = j * one.out_c;  // the group's first output channel
    const Range part{std::max(channels.begin, first) - first, std::min(channels.end, first + one.out_c) - first};
    const T* group_x = x + j * one.in_image();
    const T* group_w = weight + first * one.patch();
    const T* group_b = bias ? bias + first : nullptr;
    if (e.empty())
      conv2d_forward_im2col(group_x, group_w, group_b, one, part, rows, cols, scratch, y + first * g.positions(), backend);
    else
      conv2d_forward_epilogue(group_x, 1, group_w, group_b, one, e, part, rows, cols, scratch, y + first * eh * ew,
                              EpilogueRecord<T>{}, backend);
  }
}

// The backward of one image of a grouped convolution, group by group (conv2d_backward over the group's
// geometry): adds to dweight and dbias (if not null), writes dx (if not null). scratch:
// conv2d_backward_scratch<T>(g.group(), 1) elements.
template <class T>
void conv2d_backward_grouped(const T* x, const T* weight, const T* dy, const Conv2dGeometry& g, T* dweight, T* dbias,
                             T* dx, T* scratch) {
  const Conv2dGeometry one = g.group();
  for (std::size_t j = 0; j < g.groups; ++j) {
    const std::size_t first = j * one.out_c;
    conv2d_backward(x + j * one.in_image(), 1, weight + first * one.patch(), dy + first * g.positions(), one,
                    dweight + first * one.patch(), dbias ? dbias + first : nullptr, dx ? dx + j * one.in_image() : nullptr,
                    scratch);
  }
}

// The oracle: direct loops over a whole batch of `batch` images, accumulating in a wider type.
template <class T>
void conv2d_forward_reference(const T* x, const T* weight, const T* bias, const Conv2dGeometry& g, std::size_t batch,
                              T* y) {
  using Acc = std::conditional_t<std::is_same_v<T, float>, double, long double>;
  const std::size_t group_in = g.in_c / g.groups, group_out = g.out_c / g.groups;
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t co = 0; co < g.out_c; ++co)
      for (std::size_t oh = 0; oh < g.out_h; ++oh)
        for (std::size_t ow = 0; ow < g.out_w; ++ow) {
          Acc sum = bias ? Acc(bias[co]) : Acc(0);
          for (std::size_t j = 0; j < group_in; ++j)
            for (std::size_t ky = 0; ky < g.k_h; ++ky)
              for (std::size_t kx = 0; kx < g.k_w; ++kx) {
                const std::size_t ci = co / group_out * group_in + j;
                const std::ptrdiff_t ih = std::ptrdiff_t(oh * g.stride_h + ky * g.dil_h) - std::ptrdiff_t(g.pad_h);
                const std::ptrdiff_t iw = std::ptrdiff_t(ow * g.stride_w + kx * g.dil_w) - std::ptrdiff_t(g.pad_w);
                if (ih < 0 || iw < 0 || ih >= std::ptrdiff_t(g.in_h) || iw >= std::ptrdiff_t(g.in_w)) continue;
                sum += Acc(x[((n * g.in_c + ci) * g.in_h + std::size_t(ih)) * g.in_w + std::size_t(iw)]) *
                       Acc(weight[((co * group_in + j) * g.k_h + ky) * g.k_w + kx]);
              }
          y[((n * g.out_c + co) * g.out_h + oh) * g.out_w + ow] = T(sum);
        }
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
