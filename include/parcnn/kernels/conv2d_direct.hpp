// parcnn/kernels/conv2d_direct.hpp — a direct convolution for patches of few values (stride 1,
// K = in_c·k_h·k_w ≤ direct_max_patch; the letter CNN's conv1: 1 channel, 3×3, K = 9), with the
// epilogue's bias and 2×2 pool applied in registers.
//
// Why: at K = 9 the im2col GEMM does only 9 multiply-adds per output between zeroing and storing its
// register tile, im2col copies every input value 9 times, and the fused pool then reads the tile back
// one 13-value row at a time (about 4 ns a pooled row). Here vectors run along the epilogue's output
// columns. With the pool, each lane keeps its window's four convolution outputs in four registers:
// the input rows are first split by column parity (so every tap is one plain vector load), and the pool
// is three compare-and-selects before one store. No columns, no tile.
//
// Every output is the im2col GEMM's chain (kernels/gemm.hpp): c = w(k)·x(k) + c over k in the weight's
// order, from 0, then + bias, the same pool, the same element-wise post-ops — the same bits as
// conv2d_forward_epilogue and conv2d_forward_im2col, whatever the block.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "parcnn/kernels/conv2d_geometry.hpp"
#include "parcnn/core/range.hpp"

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

// The largest patch the direct kernel takes. Beyond a few dozen multiply-adds per output the GEMM's
// register tile amortises its loads and stores, and im2col's copies matter less.
inline constexpr std::size_t direct_max_patch = 32;

// Whether conv2d_forward_direct computes this convolution.
inline bool conv2d_direct_fits(const Conv2dGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.groups == 1 && !g.dilated() && g.patch() <= direct_max_patch;
}

namespace detail {
// The register tile: F = 2, 4 channels × 4 window outputs × 1 vector; F = 1, 8 channels × 2 vectors.
// 16 accumulators either way.
template <int F>
inline constexpr int direct_channels_per_tile = F == 2 ? 4 : 8;
template <int F>
inline constexpr int direct_vectors_per_tile = F == 2 ? 1 : 2;

// The output columns one tile covers, for an epilogue that takes f × f windows.
template <class T>
constexpr std::size_t direct_tile_lanes(std::size_t f) {
  return std::size_t(f == 2 ? direct_vectors_per_tile<2> : direct_vectors_per_tile<1>) * std::size_t(Vec<T>::lanes);
}

// The input a block reads, staged in scratch: for each input channel, each of the f·rows + k_h − 1
// input rows and each column phase φ < f, `width` values S[i] = x(f·(cols.begin + i) + φ − pad_w),
// zero outside the image and past what is read. Tap (kh, kw) of the convolution output at column
// f·ec + dx reads phase (dx + kw) mod f at i = ec − cols.begin + (dx + kw) / f.
struct DirectStage {
  std::size_t f, rows, width;

  template <class T>
  static DirectStage of(const Conv2dGeometry& g, const PostOps& e, std::size_t rows, std::size_t cols) {
    const std::size_t f = e.reduction(), step = direct_tile_lanes<T>(f);
    const std::size_t lanes = (cols + step - 1) / step * step;  // what the tiles compute
    return {f, f * rows + g.k_h - 1, lanes + gemm_whole_vectors<T>((f + g.k_w - 2) / f)};
  }
  std::size_t size(const Conv2dGeometry& g) const { return g.in_c * rows * f * width; }
  std::size_t at(std::size_t ci, std::size_t r, std::size_t phase) const { return ((ci * rows + r) * f + phase) * width; }
};

template <class T>
void stage_direct_input(const T* x, const Conv2dGeometry& g, const DirectStage& s, Range rows, Range cols, T* stage) {
  for (std::size_t ci = 0; ci < g.in_c; ++ci)
    for (std::size_t r = 0; r < s.rows; ++r) {
      const std::ptrdiff_t ih = std::ptrdiff_t(s.f * rows.begin + r) - std::ptrdiff_t(g.pad_h);
      const bool inside = ih >= 0 && ih < std::ptrdiff_t(g.in_h);
      const T* src = x + (ci * g.in_h + (inside ? std::size_t(ih) : 0)) * g.in_w;
      for (std::size_t phase = 0; phase < s.f; ++phase) {
        T* dst = stage + s.at(ci, r, phase);
        // S[i] reads column f·i + first; those inside the image are i in [lo, hi).
        const std::ptrdiff_t first = std::ptrdiff_t(s.f * cols.begin + phase) - std::ptrdiff_t(g.pad_w);
        const std::ptrdiff_t f = std::ptrdiff_t(s.f), w = std::ptrdiff_t(s.width);
        std::ptrdiff_t lo = first >= 0 ? 0 : (-first + f - 1) / f;
        std::ptrdiff_t hi = std::ptrdiff_t(g.in_w) - first <= 0 ? 0 : (std::ptrdiff_t(g.in_w) - first + f - 1) / f;
        lo = std::min(lo, w);
        hi = inside ? std::clamp(hi, lo, w) : lo;
        std::fill(dst, dst + lo, T(0));
        if (s.f == 1)
          std::copy(src + (lo + first), src + (hi + first), dst + lo);
        else
          for (std::ptrdiff_t i = lo; i < hi; ++i) dst[i] = src[2 * i + first];
        std::fill(dst + hi, dst + w, T(0));
      }
    }
}

// Where tap k of window output p = dy·F + dx reads, from the stage's row F·r at lane 0:
// taps[k·F·F + p]. Computed once a block, so that the tile's loop over k does no index arithmetic.
template <int F>
void direct_taps(const Conv2dGeometry& g, const DirectStage& s, std::size_t* taps) {
  std::size_t k = 0;
  for (std::size_t ci = 0; ci < g.in_c; ++ci)
    for (std::size_t kh = 0; kh < g.k_h; ++kh)
      for (std::size_t kw = 0; kw < g.k_w; ++kw, ++k)
        for (std::size_t dy = 0; dy < F; ++dy)
          for (std::size_t dx = 0; dx < F; ++dx)
            taps[k * F * F + dy * F + dx] = s.at(ci, dy + kh, (dx + kw) % F) + (dx + kw) / F;
}

// Bias, then with F = 2 the pool of a lane's four window outputs a, b, c, d (row by row) in
// maxpool2x2's order (kernels/maxpool2d.hpp): the first on ties, NaN if any is NaN. With `choice`, also
// which of the four each lane took (0 to 3), as window_choice picks it: the first NaN, else the first
// maximum.
template <int F, class T>
inline typename Vec<T>::type direct_finish(const typename Vec<T>::type* out, const T* bias,
                                           typename Vec<T>::mask* choice = nullptr) {
  using V = typename Vec<T>::type;
  using M = typename Vec<T>::mask;
  if constexpr (F == 1) {
    return bias ? out[0] + *bias : out[0];
  } else {
    V a = out[0], b = out[1], c = out[2], d = out[3];
    if (bias) a = a + *bias, b = b + *bias, c = c + *bias, d = d + *bias;
    const V ab = a < b ? b : a, cd = c < d ? d : c;
    const V m = ab < cd ? cd : ab;
    const auto nan = (a != a) | (b != b) | (c != c) | (d != d);
    if (choice) {  // as maxpool2x2_positions: a strict > keeps the first of equal values
      const M gt_b = b > a;
      const V ab_first = gt_b ? b : a;
      const M gt_c = c > ab_first;
      const M gt_d = d > (gt_c ? c : ab_first);
      M k = gt_d ? M{} + 3 : gt_c ? M{} + 2 : gt_b ? M{} + 1 : M{};
      k = d != d ? M{} + 3 : k;  // the first NaN overrides, so the earliest is applied last
      k = c != c ? M{} + 2 : k;
      k = b != b ? M{} + 1 : k;
      *choice = a != a ? M{} : k;
    }
    return nan ? V{} + std::numeric_limits<T>::quiet_NaN() : m;
  }
}

// Where each lane's window of epilogue row `row`, from column `col` on, took its value from, as a
// position in the convolution's output map of width `map_w` (maxpool2x2_positions' numbering), from
// its choice k: (2·row + k / 2)·map_w + 2·(col + lane) + k % 2.
template <class T>
inline typename Vec<T>::index direct_positions(const typename Vec<T>::mask& k, std::size_t row, std::size_t col,
                                               std::size_t map_w) {
  using U = typename Vec<T>::index;
  U lane;
  for (int i = 0; i < Vec<T>::lanes; ++i) lane[i] = std::uint32_t(i);
  const U choice = __builtin_convertvector(k, U);
  return U{} + std::uint32_t(2 * row * map_w + 2 * col) + 2 * lane + (choice >> 1) * std::uint32_t(map_w) + (choice & 1);
}

// MR channels from `c` (block-local) of every epilogue row, NV vectors at a time along the row; the
// stage read at `taps` (direct_taps). With `pos` (F = 2), each window's position too (direct_positions;
// laid out as y, the block's first row and column at `origin` in the epilogue's output, the
// convolution's output `map_w` wide).
template <int MR, int NV, int F, class T>
void direct_channels(const T* stage, const DirectStage& s, const std::size_t* taps, std::size_t K, const T* weight,
                     const T* bias, std::size_t c, Range rows, Range cols, T* y, std::size_t plane, std::size_t ldy,
                     std::uint32_t* pos, std::size_t map_w) {
  using V = typename Vec<T>::type;
  using M = typename Vec<T>::mask;
  constexpr std::size_t L = Vec<T>::lanes;
  const std::size_t n = cols.size();
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t i0 = 0; i0 < n; i0 += NV * L) {
      // The register tile: each lane's F·F window outputs, accumulated over the whole patch.
      const T* at = stage + s.at(0, F * r, 0) + i0;  // the stage's row F·r at the tile's first lane
      const T* w = weight + c * K;
      V acc[MR][F * F][NV] = {};
      for (std::size_t k = 0; k < K; ++k) {
        V xv[F * F][NV];
        for (int p = 0; p < F * F; ++p)
          for (int v = 0; v < NV; ++v) xv[p][v] = load(at + taps[k * F * F + p] + v * L);
        for (int m = 0; m < MR; ++m) {
          const T a = w[m * K + k];  // scalar × vector, as in gemm_tile: the same fused multiply-add
          for (int p = 0; p < F * F; ++p)
            for (int v = 0; v < NV; ++v) acc[m][p][v] = a * xv[p][v] + acc[m][p][v];
        }
      }
      V value[MR][NV];
      M choice[MR][NV];
      for (int m = 0; m < MR; ++m)
        for (int v = 0; v < NV; ++v) {
          V window[F * F];
          for (int p = 0; p < F * F; ++p) window[p] = acc[m][p][v];
          value[m][v] = direct_finish<F>(window, bias ? bias + c + m : nullptr, pos ? &choice[m][v] : nullptr);
        }
      for (std::size_t v = 0; v < NV && i0 + v * L < n; ++v) {
        const std::size_t at = i0 + v * L, valid = std::min(L, n - at);
        // A whole vector where what spills past the block's row lands in its next row, written later.
        const bool slack = valid == L || (ldy == n && r + 1 < rows.size() && L - valid <= n);
        for (int m = 0; m < MR; ++m) {
          const std::size_t to = (c + m) * plane + r * ldy + at;
          if (slack) {
            store(y + to, value[m][v]);
          } else {
            T lanes[L];
            store(lanes, value[m][v]);
            copy_partial(y + to, lanes, valid);
          }
          if constexpr (F == 2) {
            if (!pos) continue;
            const auto p = direct_positions<T>(choice[m][v], rows.begin + r, cols.begin + at, map_w);
            if (slack) {
              std::memcpy(pos + to, &p, sizeof p);
            } else {
              std::uint32_t lanes[L];
              std::memcpy(lanes, &p, sizeof p);
              std::copy_n(lanes, valid, pos + to);
            }
          }
        }
      }
    }
}

template <int F, class T>
void direct_block(const T* stage, const DirectStage& s, const Conv2dGeometry& g, const T* weight, const T* bias,
                  Range channels, Range rows, Range cols, T* y, std::size_t plane, std::size_t ldy,
                  std::uint32_t* pos) {
  constexpr int MR = direct_channels_per_tile<F>, NV = direct_vectors_per_tile<F>;
  const std::size_t K = g.patch();
  std::size_t taps[direct_max_patch * F * F];
  direct_taps<F>(g, s, taps);
  const T* w = weight + channels.begin * K;
  const T* b = bias ? bias + channels.begin : nullptr;
  std::size_t c = 0;
  for (; c + MR <= channels.size(); c += MR)
    direct_channels<MR, NV, F>(stage, s, taps, K, w, b, c, rows, cols, y, plane, ldy, pos, g.out_w);
  for (; c < channels.size(); ++c)
    direct_channels<1, NV, F>(stage, s, taps, K, w, b, c, rows, cols, y, plane, ldy, pos, g.out_w);
}
}  // namespace detail

// The vector multiply-adds conv2d_forward_direct does for `images` whole images: what its time follows
// (kernels/cost.hpp), lanes past the row's end included.
template <class T>
double conv2d_direct_vector_fmas(const Conv2dGeometry& g, const PostOps& e, std::size_t images) {
  const std::size_t f = e.reduction(), eh = epilogue_out_h(g, e), ew = epilogue_out_w(g, e);
  const std::size_t step = detail::direct_tile_lanes<T>(f);
  const double vectors = double((ew + step - 1) / step * step / std::size_t(detail::Vec<T>::lanes));
  return double(images) * double(g.out_c) * double(eh) * double(f * f) * vectors * double(g.patch());
}

// Scratch elements conv2d_forward_direct needs for blocks of `rows` × `cols` epilogue outputs.
template <class T>
std::size_t conv2d_direct_scratch(const Conv2dGeometry& g, const PostOps& e, std::size_t rows, std::size_t cols) {
  return detail::DirectStage::of<T>(g, e, rows, cols).size(g);
}

// Output channels `channels` × rows `rows` × columns `cols` of the epilogue's output of one image (with
// an empty epilogue, of the convolution's output), as conv2d_forward_epilogue computes them.
// conv2d_direct_fits(g) must hold. x: the image; y: its epilogue output [out_c, out_h / f, out_w / f];
// scratch: conv2d_direct_scratch<T>(g, e, rows.size(), cols.size()) elements. For a training pass, with
// `record` (e must have the pool), also what the fused backward reads (EpilogueRecord): each window's
// position, and with an element-wise post-op the pooled values before it.
template <class T>
void conv2d_forward_direct(const T* x, const T* weight, const T* bias, const Conv2dGeometry& g, const PostOps& e,
                           Range channels, Range rows, Range cols, T* scratch, T* y, EpilogueRecord<T> record = {}) {
  if (channels.size() == 0 || rows.size() == 0 || cols.size() == 0) return;
  const std::size_t eh = epilogue_out_h(g, e), ew = epilogue_out_w(g, e);
  const detail::DirectStage s = detail::DirectStage::of<T>(g, e, rows.size(), cols.size());
  detail::stage_direct_input(x, g, s, rows, cols, scratch);
  const std::size_t first = (channels.begin * eh + rows.begin) * ew + cols.begin;
  T* block = y + first;
  if (s.f == 2) {
    const EpilogueRecord<T> r = record.at(first);
    std::uint32_t* pos = r.positions;
    T* pooled = pos && e.has_elementwise() ? r.pooled : block;
    detail::direct_block<2>(scratch, s, g, weight, bias, channels, rows, cols, pooled, eh * ew, ew, pos);
    epilogue_elementwise(e, pooled, block, channels.size(), eh * ew, rows.size(), cols.size(), ew);
  } else {
    detail::direct_block<1>(scratch, s, g, weight, bias, channels, rows, cols, block, eh * ew, ew, nullptr);
    epilogue_elementwise(e, block, block, channels.size(), eh * ew, rows.size(), cols.size(), ew);
  }
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
