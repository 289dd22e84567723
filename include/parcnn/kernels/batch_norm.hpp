// parcnn/kernels/batch_norm.hpp — batch normalisation over [N, C, H·W] maps: a channel's batch moments,
// the per-channel affine map y = x·scale + shift, and the backward pass of one channel.
//
// Every sum runs over images, then positions, in order, in double: a channel's values do not depend on
// how channels or images are cut.

#include <cstddef>

#include "parcnn/core/range.hpp"

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

// Mean and biased variance (two passes) of channel c of x [N, C, HW].
template <class T>
void batch_norm_moments(const T* x, std::size_t N, std::size_t C, std::size_t HW, std::size_t c, double& mean,
                        double& variance) {
  double sum = 0;
  for (std::size_t n = 0; n < N; ++n)
    for (const T* p = x + (n * C + c) * HW; p != x + (n * C + c + 1) * HW; ++p) sum += double(*p);
  mean = sum / double(N * HW);
  double squares = 0;
  for (std::size_t n = 0; n < N; ++n)
    for (const T* p = x + (n * C + c) * HW; p != x + (n * C + c + 1) * HW; ++p) squares += (double(*p) - mean) * (double(*p) - mean);
  variance = squares / double(N * HW);
}

// y = x·scale[c] + shift[c] for images `images` and channels `channels` of x [N, C, HW].
template <class T>
void batch_norm_apply(const T* x, std::size_t C, std::size_t HW, Range images, Range channels, const T* scale,
                      const T* shift, T* y) {
  for (std::size_t n = images.begin; n < images.end; ++n)
    for (std::size_t c = channels.begin; c < channels.end; ++c) {
      const T a = scale[c], b = shift[c];
      const std::size_t at = (n * C + c) * HW;
      for (std::size_t i = 0; i < HW; ++i) y[at + i] = x[at + i] * a + b;
    }
}

// Σ(dy·x̂) and Σdy of channel c over images `images`, x̂ = (x − mean)·invstd: the gradients of the
// channel's weight and bias from those images (and, over the whole batch, what dx needs).
template <class T>
void batch_norm_sums(const T* x, const T* dy, std::size_t C, std::size_t HW, std::size_t c, Range images, double mean,
                     double invstd, double& sum_dy_xhat, double& sum_dy) {
  sum_dy_xhat = 0, sum_dy = 0;
  for (std::size_t n = images.begin; n < images.end; ++n) {
    const std::size_t at = (n * C + c) * HW;
    for (std::size_t i = 0; i < HW; ++i) {
      sum_dy_xhat += double(dy[at + i]) * ((double(x[at + i]) - mean) * invstd);
      sum_dy += double(dy[at + i]);
    }
  }
}

// Channel c's input gradient over all N images. With batch statistics (`batch`): dx = γ·invstd/M ·
// (M·dy − Σdy − x̂·Σ(dy·x̂)), M = N·HW, the sums over the whole batch (batch_norm_sums); with fixed
// statistics dx = γ·invstd·dy and the sums are unused.
template <class T>
void batch_norm_input_gradient(const T* x, const T* dy, std::size_t N, std::size_t C, std::size_t HW, std::size_t c,
                               double mean, double invstd, double gamma, bool batch, double sum_dy_xhat, double sum_dy,
                               T* dx) {
  const double M = double(N * HW), k = gamma * invstd;
  for (std::size_t n = 0; n < N; ++n) {
    const std::size_t at = (n * C + c) * HW;
    for (std::size_t i = 0; i < HW; ++i) {
      const double g = double(dy[at + i]);
      dx[at + i] = batch ? T(k / M * (M * g - sum_dy - (double(x[at + i]) - mean) * invstd * sum_dy_xhat)) : T(k * g);
    }
  }
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
