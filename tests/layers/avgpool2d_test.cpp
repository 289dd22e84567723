// AvgPool2d against a plain reference written from PyTorch's avg_pool2d (window clipped to the padded
// input for the divisor, then to the input for the sum) over kernels, strides, paddings, both
// roundings, with and without the padding counted; every strategy; backward against finite differences.
#include <parcnn/layers/avgpool2d.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

struct Config {
  std::size_t k, s, p;
  PoolRounding rounding;
  bool count_pad;
};

std::int64_t out_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, bool ceil) {
  std::int64_t out = (in + 2 * p - k + (ceil ? s - 1 : 0)) / s + 1;
  if (ceil && (out - 1) * s >= in + p) --out;
  return out;
}

template <class T>
Tensor<T> reference(const Tensor<T>& x, const Config& c) {
  const std::int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), k = c.k, s = c.s, p = c.p;
  const bool ceil = c.rounding == PoolRounding::ceil;
  const std::int64_t OH = out_size(H, k, s, p, ceil), OW = out_size(W, k, s, p, ceil);
  Tensor<T> y(Shape{std::size_t(N), std::size_t(C), std::size_t(OH), std::size_t(OW)});
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t ch = 0; ch < C; ++ch)
      for (std::int64_t oh = 0; oh < OH; ++oh)
        for (std::int64_t ow = 0; ow < OW; ++ow) {
          std::int64_t h0 = oh * s - p, w0 = ow * s - p;
          std::int64_t h1 = std::min(h0 + k, H + p), w1 = std::min(w0 + k, W + p);
          const std::int64_t pool = (h1 - h0) * (w1 - w0);
          h0 = std::max<std::int64_t>(h0, 0), w0 = std::max<std::int64_t>(w0, 0);
          h1 = std::min(h1, H), w1 = std::min(w1, W);
          long double sum = 0;
          for (std::int64_t h = h0; h < h1; ++h)
            for (std::int64_t w = w0; w < w1; ++w) sum += x(n, ch, h, w);
          y(n, ch, oh, ow) = T(sum / (c.count_pad ? pool : (h1 - h0) * (w1 - w0)));
        }
  return y;
}

template <class T>
class AvgPool2dTest : public ::testing::Test {};
TYPED_TEST_SUITE(AvgPool2dTest, Scalars);

TYPED_TEST(AvgPool2dTest, MatchesThePyTorchReferenceOnManyShapes) {
  using T = TypeParam;
  const std::vector<Config> configs{
      {2, 2, 0, PoolRounding::floor, true},  {3, 2, 1, PoolRounding::floor, true},
      {3, 2, 1, PoolRounding::floor, false}, {3, 2, 1, PoolRounding::ceil, true},
      {3, 2, 1, PoolRounding::ceil, false},  {3, 3, 0, PoolRounding::ceil, true},
      {5, 1, 2, PoolRounding::floor, false}, {4, 3, 2, PoolRounding::ceil, true},
      {1, 1, 0, PoolRounding::floor, true},
  };
  for (const Config& c : configs)
    for (const Shape& shape : {Shape{1, 3, 7, 9}, Shape{7, 5, 11, 6}, Shape{2, 1, 5, 5}}) {
      const AvgPool2d<T> pool(c.k, c.s, c.p, c.rounding, c.count_pad);
      SCOPED_TRACE(pool.name() + " on " + shape.str());
      const Tensor<T> x = random_tensor<T>(shape, 7, -2, 2);
      EXPECT_TRUE(near<T>(pool.forward(x), reference(x, c), tolerance<T>()));
      expect_strategies_match_sequential<T>(pool, x);
    }
}

TYPED_TEST(AvgPool2dTest, NonSquareKernelsAndStrides) {
  using T = TypeParam;
  const AvgPool2d<T> pool(Size2d{3, 2}, Size2d{1, 2}, Size2d{1, 0});
  EXPECT_EQ(pool.name(), "AvgPool2d(k=3x2, stride=1x2, pad=1x0)");
  const Tensor<T> x = random_tensor<T>(Shape{3, 2, 6, 7}, 3);
  const Tensor<T> y = pool.forward(x);
  ASSERT_EQ(y.shape(), (Shape{3, 2, 6, 3}));
  // Row 0's window is rows [-1, 2) clipped to [0, 2), columns [0, 2): divided by 3·2, the padding counted.
  const double sum = double(x(1, 1, 0, 0)) + x(1, 1, 0, 1) + x(1, 1, 1, 0) + x(1, 1, 1, 1);
  EXPECT_NEAR(double(y(1, 1, 0, 0)), sum / 6, 1e-6);
}

TEST(AvgPool2dBackwardTest, GradientsMatchFiniteDifferences) {
  for (const Config& c : {Config{3, 2, 1, PoolRounding::ceil, false}, Config{2, 2, 0, PoolRounding::floor, true},
                          Config{3, 1, 1, PoolRounding::floor, true}}) {
    AvgPool2d<double> pool(c.k, c.s, c.p, c.rounding, c.count_pad);
    SCOPED_TRACE(pool.name());
    expect_gradients_match_finite_differences(pool, random_tensor<double>(Shape{3, 2, 7, 8}, 4));
  }
}

TEST(AvgPool2dTest, RejectsBadConfigurationsAndInputs) {
  expect_throw_with<ConfigError>([] { AvgPool2d<float>(0); }, {"kernel size must be at least 1"});
  expect_throw_with<ConfigError>([] { AvgPool2d<float>(3, 0); }, {"stride must be at least 1"});
  expect_throw_with<ConfigError>([] { AvgPool2d<float>(3, 1, 2); }, {"padding may be at most half the kernel size"});
  expect_throw_with([] { AvgPool2d<float>(3).forward(Tensor<float>(Shape{1, 2, 2, 5})); },
                    {"AvgPool2d(k=3)", "H >= 3", "got [1, 2, 2, 5]"});
  expect_throw_with([] { AvgPool2d<float>(2).forward(Tensor<float>(Shape{2, 5})); }, {"AvgPool2d(k=2)", "got [2, 5]"});
}

}  // namespace
}  // namespace parcnn::test
