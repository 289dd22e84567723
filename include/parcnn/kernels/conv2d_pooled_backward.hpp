// parcnn/kernels/conv2d_pooled_backward.hpp — the backward pass of a convolution followed by a 2×2 max
// pool (stride 2, floor) and optionally one element-wise post-op (GELU, ReLU), from the gradient of the
// stage's output.
//
// Each pooled value is one convolution output (its window's first NaN, else its first maximum), so the
// convolution's output gradient is zero but at one position per window: conv2 of the letter CNN has 25
// such positions of 121 per map, conv3 1 of 9. Rather than write that gradient out densely and run two
// dense GEMMs and a col2im over it, the kernel visits the windows alone. Per image, with J windows per map:
//   v[co, j] = grad[co, j] · f'(pooled[co, j])           (f the element-wise post-op; grad without one)
//   p[co, j] = the convolution output window j of channel co took (maxpool2x2_positions; the pool's
//              forward pass records them)
//   dW[co, :] += v[co, j] · patch(p[co, j])   for j in order, in registers, over a chunk's images
//   db[co]    += Σ_j v[co, j]                 (detail::image_sum)
//   dx[patch of q] += Σ over the channels co whose window took q of v[co, j] · W[co]   (channels last)
// A patch is read in place from the channels-last input where the input's channels fill whole vectors,
// else from the patches built as rows (im2col, transposed). Every element is one chain in a fixed order
// that depends on neither the cut nor the thread count: the trained weights stay the same bits under
// every strategy.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "parcnn/kernels/conv2d_geometry.hpp"

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

// The weight [out_c, in_c, k_h, k_w] channels last, [out_c, k_h, k_w, ldc] with ldc =
// gemm_whole_vectors(in_c) and zeros past in_c: the rows conv2d_pooled_backward adds into dx.
template <class T>
std::size_t conv2d_weight_channels_last_size(const Conv2dGeometry& g) {
  return g.out_c * g.k_h * g.k_w * gemm_whole_vectors<T>(g.in_c);
}
template <class T>
void conv2d_weight_channels_last(const T* weight, const Conv2dGeometry& g, T* out) {
  const std::size_t ldc = gemm_whole_vectors<T>(g.in_c), taps = g.k_h * g.k_w;
  if (ldc == g.in_c) {  // each channel's [in_c, taps] transposed whole
    for (std::size_t co = 0; co < g.out_c; ++co) transpose(weight + co * g.in_c * taps, g.in_c, taps, out + co * taps * ldc);
    return;
  }
  for (std::size_t co = 0; co < g.out_c; ++co)
    for (std::size_t ky = 0; ky < g.k_h; ++ky)
      for (std::size_t kx = 0; kx < g.k_w; ++kx) {
        T* row = out + ((co * g.k_h + ky) * g.k_w + kx) * ldc;
        for (std::size_t ci = 0; ci < g.in_c; ++ci) row[ci] = weight[((co * g.in_c + ci) * g.k_h + ky) * g.k_w + kx];
        std::fill(row + g.in_c, row + ldc, T(0));
      }
}

namespace detail {
// The padded extent of the channels-last input gradient conv2d_pooled_backward accumulates in.
inline std::size_t pooled_backward_dx_positions(const Conv2dGeometry& g) {
  return (g.in_h + 2 * g.pad_h) * (g.in_w + 2 * g.pad_w);
}

// Whether the weight gradient accumulates channels last ([out_c, k_h, k_w, in_c]): where the input's
// channels fill whole vectors, each patch is then k_h·k_w segments of the channels-last input, read in
// place; else the weight's own layout [out_c, K], read from the patches built as rows.
template <class T>
bool pooled_weight_channels_last(const Conv2dGeometry& g) {
  return g.in_c % Vec<T>::lanes == 0;
}

// Scratch layout of conv2d_pooled_backward, in elements of T from a vector-aligned start, each part on
// a whole vector.
template <class T>
struct PooledBackwardScratch {
  std::size_t columns, rows, values, positions, frame, channels, channel_values, offsets, x_cl, dx_t, total;
  explicit PooledBackwardScratch(const Conv2dGeometry& g) {
    const std::size_t K = g.patch(), P = g.positions(), J = g.out_c * (g.out_h / 2) * (g.out_w / 2);
    const std::size_t ldc = gemm_whole_vectors<T>(g.in_c), patch_vectors = g.k_h * g.k_w * ldc / Vec<T>::lanes;
    const bool rows_needed = !pooled_weight_channels_last<T>(g);
    std::size_t at = 0;
    auto part = [&](std::size_t bytes) {
      const std::size_t start = at;
      at += gemm_whole_vectors<T>((bytes + sizeof(T) - 1) / sizeof(T));
      return start;
    };
    columns = part(rows_needed ? sizeof(T) * K * P : 0);                      // im2col's [K, P]
    rows = part(rows_needed ? sizeof(T) * (P * K + Vec<T>::lanes) : 0);       // its transpose, read by whole vectors
    values = part(sizeof(T) * J);                                            // v
    positions = part(sizeof(std::uint32_t) * J);                             // p
    frame = part(sizeof(std::uint32_t) * J);                                 // p's patch in the frame
    channels = part(sizeof(std::uint32_t) * 4 * g.out_c);  // one window's channels by the value they took
    channel_values = part(sizeof(T) * 4 * g.out_c);        // and their v
    offsets = part(sizeof(std::uint32_t) * patch_vectors);  // each patch vector's place in the frame
    x_cl = part(rows_needed ? 0 : sizeof(T) * pooled_backward_dx_positions(g) * ldc);
    dx_t = part(sizeof(T) * pooled_backward_dx_positions(g) * ldc);
    total = at;
  }
};

// dweight[co, k0 + i·L …] (rows of K) for NV whole vectors (the last one `tail` lanes when tail > 0) of
// channels [c0, c1): window j of channel co reads its patch's vector q at
// src + index[co·J + j] · stride + offset[q]. One chain per element over the windows in order; G channels
// side by side so that G·NV chains are in flight.
template <int NV, int G, class T>
void pooled_weight_block(const T* src, const std::uint32_t* index, std::size_t stride, const std::size_t* offset,
                         const T* v, std::size_t c0, std::size_t c1, std::size_t J, std::size_t K, std::size_t k0,
                         std::size_t tail, T* dweight) {
  using V = typename Vec<T>::type;
  constexpr std::size_t L = Vec<T>::lanes;
  for (std::size_t co = c0; co + G <= c1; co += G) {
    V acc[G][NV];
    for (int c = 0; c < G; ++c)
      for (int q = 0; q < NV; ++q) {
        const T* dw = dweight + (co + c) * K + k0 + q * L;
        if (tail && q == NV - 1) {
          acc[c][q] = V{};
          copy_partial(reinterpret_cast<T*>(&acc[c][q]), dw, tail);
        } else {
          acc[c][q] = load(dw);
        }
      }
    for (std::size_t j = 0; j < J; ++j)
      for (int c = 0; c < G; ++c) {
        const T a = v[(co + c) * J + j];
        const T* r = src + std::size_t(index[(co + c) * J + j]) * stride;
        for (int q = 0; q < NV; ++q) acc[c][q] = a * load(r + offset[q]) + acc[c][q];
      }
    for (int c = 0; c < G; ++c)
      for (int q = 0; q < NV; ++q) {
        T* dw = dweight + (co + c) * K + k0 + q * L;
        if (tail && q == NV - 1)
          copy_partial(dw, reinterpret_cast<const T*>(&acc[c][q]), tail);
        else
          store(dw, acc[c][q]);
      }
  }
}

// pooled_weight_block over every channel: groups of G = 8 / NV, then the channels left one by one.
template <int NV, class T>
void pooled_weight_blocks(const T* src, const std::uint32_t* index, std::size_t stride, const std::size_t* offset,
                          const T* v, std::size_t out_c, std::size_t J, std::size_t K, std::size_t k0,
                          std::size_t tail, T* dweight) {
  constexpr int G = 8 / NV;
  const std::size_t grouped = out_c / G * G;
  pooled_weight_block<NV, G>(src, index, stride, offset, v, 0, grouped, J, K, k0, tail, dweight);
  pooled_weight_block<NV, 1>(src, index, stride, offset, v, grouped, out_c, J, K, k0, tail, dweight);
}

// The weight gradient's vectors [k0, k0 + n) of every channel (rows of K), in blocks of up to 4 vectors:
// a block's segment of every patch (conv2 of the letter CNN: 121 × 256 bytes) stays in L1 while every
// channel reads it. Vector u of a patch is at src + index · stride + offset(u).
template <class T, class Offset>
void pooled_weight_gradient(const T* src, const std::uint32_t* index, std::size_t stride, Offset&& offset, const T* v,
                            std::size_t out_c, std::size_t J, std::size_t K, T* dweight) {
  constexpr std::size_t L = Vec<T>::lanes, block = 4;
  std::size_t at[block];
  for (std::size_t k0 = 0; k0 < K; k0 += block * L) {
    const std::size_t n = std::min(K - k0, block * L), vectors = (n + L - 1) / L, tail = n % L;
    for (std::size_t q = 0; q < vectors; ++q) at[q] = offset(k0 / L + q);
    if (vectors == 4)
      pooled_weight_blocks<4>(src, index, stride, at, v, out_c, J, K, k0, tail, dweight);
    else if (vectors == 3)
      pooled_weight_blocks<3>(src, index, stride, at, v, out_c, J, K, k0, tail, dweight);
    else if (vectors == 2)
      pooled_weight_blocks<2>(src, index, stride, at, v, out_c, J, K, k0, tail, dweight);
    else
      pooled_weight_blocks<1>(src, index, stride, at, v, out_c, J, K, k0, tail, dweight);
  }
}

// Adds Σ_i values[i] · W[channels[i]] (channels last, W_cl: rows of `row` elements) over the patch of
// one convolution output, whose top-left input is `at` in the channels-last frame: the patch's vector u
// goes to at + offsets[u]. The sum in registers, NV vectors at a time, each element one chain over the
// channels in order.
template <int NV, class T>
void pooled_dx_vectors(const T* weight_cl, std::size_t row, const std::uint32_t* channels, const T* values,
                       std::size_t count, std::size_t u0, const std::uint32_t* offsets, T* at) {
  using V = typename Vec<T>::type;
  constexpr std::size_t L = Vec<T>::lanes;
  V acc[NV];
  for (int u = 0; u < NV; ++u) acc[u] = V{};
  for (std::size_t i = 0; i < count; ++i) {
    const T a = values[i];
    const T* w = weight_cl + std::size_t(channels[i]) * row + u0 * L;
    for (int u = 0; u < NV; ++u) acc[u] = a * load(w + u * L) + acc[u];
  }
  for (int u = 0; u < NV; ++u) {
    T* to = at + offsets[u0 + std::size_t(u)];
    store(to, load(to) + acc[u]);
  }
}

template <class T>
void pooled_dx_position(const T* weight_cl, std::size_t patch_vectors, const std::uint32_t* channels,
                        const T* values, std::size_t count, const std::uint32_t* offsets, T* at) {
  constexpr std::size_t L = Vec<T>::lanes, block = 16;
  const std::size_t row = patch_vectors * L;
  std::size_t u0 = 0;
  for (; u0 + block <= patch_vectors; u0 += block)
    pooled_dx_vectors<block>(weight_cl, row, channels, values, count, u0, offsets, at);
  for (; u0 + 4 <= patch_vectors; u0 += 4)
    pooled_dx_vectors<4>(weight_cl, row, channels, values, count, u0, offsets, at);
  for (; u0 + 2 <= patch_vectors; u0 += 2)
    pooled_dx_vectors<2>(weight_cl, row, channels, values, count, u0, offsets, at);
  for (; u0 < patch_vectors; ++u0) pooled_dx_vectors<1>(weight_cl, row, channels, values, count, u0, offsets, at);
}
}  // namespace detail

// Scratch elements conv2d_pooled_backward needs.
template <class T>
std::size_t conv2d_pooled_backward_scratch(const Conv2dGeometry& g) {
  return detail::PooledBackwardScratch<T>(g).total;
}

// Whether conv2d_pooled_backward can take this geometry: one group, no dilation, offsets into its frames
// fit 32 bits.
template <class T>
bool conv2d_pooled_backward_fits(const Conv2dGeometry& g) {
  const double frame = double(detail::pooled_backward_dx_positions(g)) * double(gemm_whole_vectors<T>(g.in_c));
  return g.groups == 1 && !g.dilated() && g.out_h >= 2 && g.out_w >= 2 && double(g.positions()) < 4294967295.0 &&
         frame < 4294967295.0;
}

// Adds the weight gradient conv2d_pooled_backward accumulated (`acc`, out_c × K elements in its layout,
// detail::pooled_weight_channels_last) into dweight [out_c, K]. scratch: K elements.
template <class T>
void conv2d_pooled_weight_gradient_add(const Conv2dGeometry& g, const T* acc, T* dweight, T* scratch) {
  const std::size_t K = g.patch(), taps = g.k_h * g.k_w;
  for (std::size_t co = 0; co < g.out_c; ++co) {
    const T* from = acc + co * K;
    if (detail::pooled_weight_channels_last<T>(g)) {
      transpose(from, taps, g.in_c, scratch);  // [taps, in_c] → [in_c, taps]
      from = scratch;
    }
    T* to = dweight + co * K;
    for (std::size_t k = 0; k < K; ++k) to[k] += from[k];
  }
}

// Backward of one image through convolution → 2×2 max pool (→ one element-wise post-op when e has two:
// e.pools() must hold; conv2d_pooled_backward_fits(g)). x: the image [in_c, in_h, in_w]; positions: where each window
// took its value from, [out_c, out_h/2 · out_w/2] (maxpool2x2_positions, as the pool's forward pass
// records them), or null to find them in y, the convolution's output [out_c, out_h, out_w] (read only
// then); pooled: the pool's output [out_c, out_h/2, out_w/2] (the element-wise post-op's input; read
// only with one); grad: the gradient of the epilogue's output; weight_cl: conv2d_weight_channels_last of
// the weight (read only for dx). Adds the weight gradient into dweight_acc (out_c × K, in the layout of
// detail::pooled_weight_channels_last: over a chunk's images, then conv2d_pooled_weight_gradient_add)
// and the bias gradient into dbias (if not null); writes dx (if not null). scratch:
// conv2d_pooled_backward_scratch<T>(g) elements, aligned to a vector.
template <class T>
void conv2d_pooled_backward(const T* x, const T* y, const std::uint32_t* positions, const T* pooled, const T* grad,
                            const T* weight_cl, const Conv2dGeometry& g, const PostOps& e, T* dweight_acc, T* dbias,
                            T* dx, T* scratch) {
  constexpr std::size_t L = detail::Vec<T>::lanes;
  const std::size_t K = g.patch(), P = g.positions(), eh = g.out_h / 2, ew = g.out_w / 2, J = eh * ew;
  const detail::PooledBackwardScratch<T> at(g);
  T* v = scratch + at.values;
  std::uint32_t* found = reinterpret_cast<std::uint32_t*>(scratch + at.positions);
  const std::uint32_t* pos = positions ? positions : found;
  auto* frame = reinterpret_cast<std::uint32_t*>(scratch + at.frame);
  auto* offsets = reinterpret_cast<std::uint32_t*>(scratch + at.offsets);

  // The windows' gradients, the positions they came from, and where those positions' patches start in
  // the channels-last frame (padded input, ldc values per position).
  if (e.size() > 1)
    apply_post_op_backward(e[1], pooled, grad, v, g.out_c * J);
  else
    std::copy(grad, grad + g.out_c * J, v);
  const std::size_t ldc = gemm_whole_vectors<T>(g.in_c), frame_w = g.in_w + 2 * g.pad_w;
  const bool channels_last = detail::pooled_weight_channels_last<T>(g), need_frame = channels_last || dx;
  for (std::size_t co = 0; co < g.out_c; ++co) {
    if (!positions) maxpool2x2_positions(y + co * P, g.out_w, eh, ew, found + co * J);
    if (!need_frame) continue;
    for (std::size_t oh = 0, j = co * J; oh < eh; ++oh)
      for (std::size_t ow = 0; ow < ew; ++ow, ++j) {
        const std::size_t d = pos[j] - 2 * (oh * g.out_w + ow), below = d >= g.out_w;  // d: 0, 1, out_w or out_w + 1
        const std::size_t y_row = 2 * oh + below, y_col = 2 * ow + d - below * g.out_w;
        frame[j] = std::uint32_t((y_row * g.stride_h * frame_w + y_col * g.stride_w) * ldc);
      }
  }
  const std::size_t per_kx = ldc / L, patch_vectors = g.k_h * g.k_w * per_kx;
  for (std::size_t u = 0; u < patch_vectors; ++u) {
    const std::size_t kk = u / per_kx;
    offsets[u] = std::uint32_t(((kk / g.k_w) * frame_w + kk % g.k_w) * ldc + (u % per_kx) * L);
  }
  if (dbias)
    for (std::size_t co = 0; co < g.out_c; ++co) {
      T sum = dbias[co];
      sum += detail::image_sum(v + co * J, J);
      dbias[co] = sum;
    }

  // dW: each channel's row, whole vectors at a time, from the channels-last input in its frame (or the
  // patches as rows: im2col, transposed).
  if (channels_last) {
    T* x_cl = scratch + at.x_cl;
    if (g.pad_h == 0 && g.pad_w == 0) {
      transpose(x, g.in_c, g.in_h * g.in_w, x_cl);
    } else {
      std::fill_n(x_cl, detail::pooled_backward_dx_positions(g) * ldc, T(0));
      for (std::size_t ci = 0; ci < g.in_c; ++ci)
        for (std::size_t ih = 0; ih < g.in_h; ++ih)
          for (std::size_t iw = 0; iw < g.in_w; ++iw)
            x_cl[((ih + g.pad_h) * frame_w + iw + g.pad_w) * ldc + ci] = x[(ci * g.in_h + ih) * g.in_w + iw];
    }
    detail::pooled_weight_gradient(x_cl, frame, 1, [&](std::size_t u) { return std::size_t(offsets[u]); }, v, g.out_c,
                                   J, K, dweight_acc);
  } else {
    T* rows = scratch + at.rows;
    im2col(x, g, Range{0, g.out_h}, Range{0, g.out_w}, scratch + at.columns, P);
    transpose(scratch + at.columns, K, P, rows);
    detail::pooled_weight_gradient(rows, pos, K, [&](std::size_t u) { return u * L; }, v, g.out_c, J, K, dweight_acc);
  }
  if (!dx) return;

  // dx: each window's v · W[co] added over its patch, channels last in a padded frame, then transposed.
  T* dx_t = scratch + at.dx_t;
  std::fill_n(dx_t, detail::pooled_backward_dx_positions(g) * ldc, T(0));
  // Window by window, its channels sorted by the position they took; for each position, the sum of
  // v · W[co] over its channels in registers, then added over the position's patch at once.
  auto* channels = reinterpret_cast<std::uint32_t*>(scratch + at.channels);
  T* values = scratch + at.channel_values;
  for (std::size_t j = 0; j < J; ++j) {
    std::size_t count[4] = {0, 0, 0, 0};
    const std::size_t base = 2 * (j / ew) * g.out_w + 2 * (j % ew);
    for (std::size_t co = 0; co < g.out_c; ++co) {
      const std::size_t d = pos[co * J + j] - base, below = d >= g.out_w;
      const std::size_t q = 2 * below + d - below * g.out_w;
      channels[q * g.out_c + count[q]] = std::uint32_t(co);
      values[q * g.out_c + count[q]++] = v[co * J + j];
    }
    for (std::size_t q = 0; q < 4; ++q)
      if (count[q])
        detail::pooled_dx_position(weight_cl, patch_vectors, channels + q * g.out_c, values + q * g.out_c, count[q],
                                   offsets, dx_t + frame[channels[q * g.out_c] * J + j]);
  }
  const std::size_t HW = g.in_h * g.in_w;
  if (g.pad_h == 0 && g.pad_w == 0 && ldc == g.in_c) {
    transpose(dx_t, HW, g.in_c, dx);
    return;
  }
  for (std::size_t ih = 0; ih < g.in_h; ++ih)
    for (std::size_t iw = 0; iw < g.in_w; ++iw) {
      const T* from = dx_t + ((ih + g.pad_h) * frame_w + iw + g.pad_w) * ldc;
      for (std::size_t ci = 0; ci < g.in_c; ++ci) dx[ci * HW + ih * g.in_w + iw] = from[ci];
    }
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
