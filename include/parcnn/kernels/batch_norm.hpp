// parcnn/kernels/batch_norm.hpp — batch normalisation over [N, C, H·W] maps: a channel's batch moments,
// the per-channel affine map y = x·scale + shift, and the backward pass of one channel.
//
// A channel's sums are fixed by its shape alone (each map in vectors, the maps in order, in double): a
// channel's values do not depend on how channels or images are cut.

#include <cstddef>

#include "parcnn/core/range.hpp"

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

namespace detail {
// The lanes of v added in double as a tree (lane l + lane l + L/2, halving): a fixed order, and log2(L)
// dependent additions rather than L.
template <class T>
double sum_lanes(typename Vec<T>::type v) {
  constexpr std::size_t L = Vec<T>::lanes;
  double lanes[L];
  for (std::size_t l = 0; l < L; ++l) lanes[l] = double(v[l]);
  for (std::size_t w = L / 2; w >= 1; w /= 2)
    for (std::size_t l = 0; l < w; ++l) lanes[l] += lanes[l + w];
  return lanes[0];
}

// Σ f(x_i, y_i) over one map of n values: vector accumulators in T over whole vectors, their lanes then
// added in double (sum_lanes), the tail in double in order. A fixed order for a given n: the same bits
// wherever the map falls.
template <class T, class F>
double map_sum(const T* x, const T* y, std::size_t n, F f) {
  using V = typename Vec<T>::type;
  constexpr std::size_t L = Vec<T>::lanes;
  V acc = V{} , acc2 = V{};
  std::size_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    acc += f(load(x + i), load(y + i));
    acc2 += f(load(x + i + L), load(y + i + L));
  }
  for (; i + L <= n; i += L) acc += f(load(x + i), load(y + i));
  acc += acc2;
  double sum = sum_lanes<T>(acc);
  for (; i < n; ++i) {
    V a = V{}, b = V{};
    a[0] = x[i], b[0] = y[i];
    sum += double(f(a, b)[0]);
  }
  return sum;
}

template <class T>
struct Value {  // x
  typename Vec<T>::type operator()(typename Vec<T>::type x, typename Vec<T>::type) const { return x; }
};
template <class T>
struct SquaredDeviation {  // (x − mean)²
  typename Vec<T>::type mean;
  typename Vec<T>::type operator()(typename Vec<T>::type x, typename Vec<T>::type) const { return (x - mean) * (x - mean); }
};
template <class T>
struct GradientTimesNormalised {  // dy · (x − mean) · invstd
  typename Vec<T>::type mean, invstd;
  typename Vec<T>::type operator()(typename Vec<T>::type x, typename Vec<T>::type dy) const {
    return dy * ((x - mean) * invstd);
  }
};
template <class T>
typename Vec<T>::type splat(T v) {
  typename Vec<T>::type out = {};
  return out + v;
}
}  // namespace detail

// Mean and biased variance (two passes) of channel c of x [N, C, HW]: each map summed by map_sum, the
// maps in order.
template <class T>
void batch_norm_moments(const T* x, std::size_t N, std::size_t C, std::size_t HW, std::size_t c, double& mean,
                        double& variance) {
  double sum = 0;
  for (std::size_t n = 0; n < N; ++n) {
    const T* p = x + (n * C + c) * HW;
    sum += detail::map_sum(p, p, HW, detail::Value<T>{});
  }
  mean = sum / double(N * HW);
  const detail::SquaredDeviation<T> deviation{detail::splat(T(mean))};
  double squares = 0;
  for (std::size_t n = 0; n < N; ++n) {
    const T* p = x + (n * C + c) * HW;
    squares += detail::map_sum(p, p, HW, deviation);
  }
  variance = squares / double(N * HW);
}

// y = x·scale[c] + shift[c] for images `images` and channels `channels` of x [N, C, HW]; with `relu`,
// then ReLU's max(y, 0) as kernels::relu computes it.
template <class T>
void batch_norm_apply(const T* x, std::size_t C, std::size_t HW, Range images, Range channels, const T* scale,
                      const T* shift, T* y, bool relu = false) {
  for (std::size_t n = images.begin; n < images.end; ++n)
    for (std::size_t c = channels.begin; c < channels.end; ++c) {
      const T a = scale[c], b = shift[c];
      const std::size_t at = (n * C + c) * HW;
      if (relu)
        for (std::size_t i = 0; i < HW; ++i) {
          const T v = x[at + i] * a + b;
          y[at + i] = v < T(0) ? T(0) : v;
        }
      else
        for (std::size_t i = 0; i < HW; ++i) y[at + i] = x[at + i] * a + b;
    }
}

namespace detail {
// dy where the ReLU after the layer passed its input (mask > 0, mask the ReLU's output), else 0: what
// kernels::relu_backward gives; without a mask, dy.
template <class T>
typename Vec<T>::type through_relu(typename Vec<T>::type dy, const T* mask) {
  if (!mask) return dy;
  return load(mask) > typename Vec<T>::type{} ? dy : typename Vec<T>::type{};
}
template <class T>
T through_relu(T dy, const T* mask) {
  return !mask || *mask > T(0) ? dy : T(0);
}
}  // namespace detail

// Σ(dy·x̂) and Σdy over one map of n values, x̂ = (x − mean)·invstd, in one pass over x and dy: each
// the sum map_sum gives for it alone (the same accumulators, in the same order). With `mask` (the
// output of a ReLU after the layer), dy taken through that ReLU first.
template <class T>
void batch_norm_map_sums(const T* x, const T* dy, const T* mask, std::size_t n, double mean, double invstd,
                         double& sum_dy_xhat, double& sum_dy) {
  using V = typename detail::Vec<T>::type;
  constexpr std::size_t L = detail::Vec<T>::lanes;
  const detail::GradientTimesNormalised<T> term{detail::splat(T(mean)), detail::splat(T(invstd))};
  V acc = V{}, acc2 = V{}, dacc = V{}, dacc2 = V{};
  std::size_t i = 0;
  const auto at = [&](std::size_t j) { return mask ? mask + j : nullptr; };
  for (; i + 2 * L <= n; i += 2 * L) {
    const V d = detail::through_relu<T>(detail::load(dy + i), at(i));
    const V d2 = detail::through_relu<T>(detail::load(dy + i + L), at(i + L));
    acc += term(detail::load(x + i), d);
    acc2 += term(detail::load(x + i + L), d2);
    dacc += d;
    dacc2 += d2;
  }
  for (; i + L <= n; i += L) {
    const V d = detail::through_relu<T>(detail::load(dy + i), at(i));
    acc += term(detail::load(x + i), d);
    dacc += d;
  }
  acc += acc2;
  dacc += dacc2;
  double dy_xhat = detail::sum_lanes<T>(acc), sum = detail::sum_lanes<T>(dacc);  // locals: the tail adds to them
  for (; i < n; ++i) {
    const T d = detail::through_relu(dy[i], at(i));
    V a = V{}, b = V{};
    a[0] = x[i], b[0] = d;
    dy_xhat += double(term(a, b)[0]);
    sum += double(d);
  }
  sum_dy_xhat = dy_xhat, sum_dy = sum;
}

// Channel c's Σ(dy·x̂) and Σdy over all N images (sum_dy_xhat, sum_dy: the batch's) and over each of
// `chunks` consecutive runs of images, chunk k ending at chunk_end(k) (chunk_sums(k, Σ(dy·x̂), Σdy)):
// each image's map summed once by batch_norm_map_sums, the images added in order. `mask`, laid out as
// x, or null: as for batch_norm_map_sums.
template <class T, class ChunkEnd, class ChunkSums>
void batch_norm_sums(const T* x, const T* dy, const T* mask, std::size_t N, std::size_t C, std::size_t HW,
                     std::size_t c, double mean, double invstd, std::size_t chunks, ChunkEnd&& chunk_end,
                     ChunkSums&& chunk_sums, double& sum_dy_xhat, double& sum_dy) {
  double dy_xhat = 0, sum = 0;
  std::size_t n = 0;
  for (std::size_t k = 0; k <= chunks; ++k) {  // k = chunks: the images after the last chunk, if any
    const std::size_t end = k < chunks ? chunk_end(k) : N;
    double chunk_dy_xhat = 0, chunk_dy = 0;
    for (; n < end; ++n) {
      const std::size_t at = (n * C + c) * HW;
      double map_dy_xhat, map_dy;
      batch_norm_map_sums(x + at, dy + at, mask ? mask + at : nullptr, HW, mean, invstd, map_dy_xhat, map_dy);
      chunk_dy_xhat += map_dy_xhat, chunk_dy += map_dy;
      dy_xhat += map_dy_xhat, sum += map_dy;
    }
    if (k < chunks) chunk_sums(k, chunk_dy_xhat, chunk_dy);
  }
  sum_dy_xhat = dy_xhat, sum_dy = sum;
}

// Channel c's input gradient over all N images. With batch statistics (`batch`): dx = γ·invstd ·
// (dy − (Σdy + x̂·Σ(dy·x̂)) / M), M = N·HW, the sums over the whole batch; with fixed statistics
// dx = γ·invstd·dy and the sums are unused. `mask` as for batch_norm_sums.
template <class T>
void batch_norm_input_gradient(const T* x, const T* dy, const T* mask, std::size_t N, std::size_t C, std::size_t HW,
                               std::size_t c, double mean, double invstd, double gamma, bool batch, double sum_dy_xhat,
                               double sum_dy, T* dx) {
  const double M = double(N * HW);
  const T k = T(gamma * invstd), m = T(mean), s = T(invstd), a = T(batch ? sum_dy / M : 0), b = T(batch ? sum_dy_xhat / M : 0);
  for (std::size_t n = 0; n < N; ++n) {
    const std::size_t at = (n * C + c) * HW;
    if (mask)
      for (std::size_t i = 0; i < HW; ++i) {
        const T d = mask[at + i] > T(0) ? dy[at + i] : T(0);
        dx[at + i] = k * (d - (a + (x[at + i] - m) * s * b));
      }
    else
      for (std::size_t i = 0; i < HW; ++i) dx[at + i] = k * (dy[at + i] - (a + (x[at + i] - m) * s * b));
  }
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
