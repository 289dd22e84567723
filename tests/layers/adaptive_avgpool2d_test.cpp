// AdaptiveAvgPool2d against a plain reference of PyTorch's windows ([⌊o·in/out⌋, ⌈(o+1)·in/out⌉)),
// global pooling as the mean of each map, inputs smaller than the output, every strategy, and backward
// against finite differences.
#include <parcnn/layers/adaptive_avgpool2d.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
Tensor<T> reference(const Tensor<T>& x, std::size_t OH, std::size_t OW) {
  const std::size_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  Tensor<T> y(Shape{N, C, OH, OW});
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t oh = 0; oh < OH; ++oh)
        for (std::size_t ow = 0; ow < OW; ++ow) {
          const std::size_t h0 = std::size_t(std::floor(double(oh * H) / double(OH)));
          const std::size_t h1 = std::size_t(std::ceil(double((oh + 1) * H) / double(OH)));
          const std::size_t w0 = std::size_t(std::floor(double(ow * W) / double(OW)));
          const std::size_t w1 = std::size_t(std::ceil(double((ow + 1) * W) / double(OW)));
          long double sum = 0;
          for (std::size_t h = h0; h < h1; ++h)
            for (std::size_t w = w0; w < w1; ++w) sum += x(n, c, h, w);
          y(n, c, oh, ow) = T(sum / ((h1 - h0) * (w1 - w0)));
        }
  return y;
}

template <class T>
class AdaptiveAvgPool2dTest : public ::testing::Test {};
TYPED_TEST_SUITE(AdaptiveAvgPool2dTest, Scalars);

TYPED_TEST(AdaptiveAvgPool2dTest, MatchesThePyTorchReferenceOnManyShapes) {
  using T = TypeParam;
  for (const Size2d out : {Size2d{1}, Size2d{2}, Size2d{3, 5}, Size2d{7}, Size2d{4, 2}})
    for (const Shape& shape : {Shape{1, 3, 7, 9}, Shape{7, 5, 11, 6}, Shape{2, 1, 5, 5}, Shape{2, 2, 3, 2}}) {
      const AdaptiveAvgPool2d<T> pool(out);
      SCOPED_TRACE(pool.name() + " on " + shape.str());
      const Tensor<T> x = random_tensor<T>(shape, 7, -2, 2);
      const Tensor<T> y = pool.forward(x);
      ASSERT_EQ(y.shape(), (Shape{shape[0], shape[1], out.h, out.w}));
      EXPECT_TRUE(near<T>(y, reference(x, out.h, out.w), tolerance<T>()));
      expect_strategies_match_sequential<T>(pool, x);
    }
}

TYPED_TEST(AdaptiveAvgPool2dTest, GlobalPoolingIsTheMeanOfEachMap) {
  using T = TypeParam;
  const Tensor<T> x = random_tensor<T>(Shape{3, 4, 5, 7}, 2);
  const Tensor<T> y = AdaptiveAvgPool2d<T>(1).forward(x);
  ASSERT_EQ(y.shape(), (Shape{3, 4, 1, 1}));
  for (std::size_t n = 0; n < 3; ++n)
    for (std::size_t c = 0; c < 4; ++c) {
      double sum = 0;
      for (std::size_t i = 0; i < 35; ++i) sum += x.data()[(n * 4 + c) * 35 + i];
      EXPECT_NEAR(double(y(n, c, 0, 0)), sum / 35, 1e-6);
    }
}

TEST(AdaptiveAvgPool2dBackwardTest, GradientsMatchFiniteDifferences) {
  for (const Size2d out : {Size2d{1}, Size2d{3, 4}, Size2d{9}}) {
    AdaptiveAvgPool2d<double> pool(out);
    SCOPED_TRACE(pool.name());
    expect_gradients_match_finite_differences(pool, random_tensor<double>(Shape{3, 2, 7, 6}, 4));
  }
}

TEST(AdaptiveAvgPool2dTest, RejectsBadConfigurationsAndInputs) {
  expect_throw_with<ConfigError>([] { AdaptiveAvgPool2d<float>(0); }, {"AdaptiveAvgPool2d(0)", "at least 1"});
  expect_throw_with([] { AdaptiveAvgPool2d<float>(1).forward(Tensor<float>(Shape{2, 5})); },
                    {"AdaptiveAvgPool2d(1)", "[N, C, H, W]", "got [2, 5]"});
  expect_throw_with([] { AdaptiveAvgPool2d<float>(1).forward(Tensor<float>(Shape{2, 5, 0, 3})); },
                    {"AdaptiveAvgPool2d(1)", "got [2, 5, 0, 3]"});
}

}  // namespace
}  // namespace parcnn::test
