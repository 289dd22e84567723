// Flatten keeps NCHW order and rejects what it cannot flatten.
#include <parcnn/layers/flatten.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(FlattenTest, KeepsElementOrderUnderEveryStrategy) {
  const Tensor<float> x = random_tensor<float>(Shape{7, 3, 5, 2}, 1);
  const Tensor<float> y = Flatten<float>().forward(x);
  ASSERT_EQ(y.shape(), (Shape{7, 30}));
  for (std::size_t n = 0; n < 7; ++n)
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t h = 0; h < 5; ++h)
        for (std::size_t w = 0; w < 2; ++w) EXPECT_EQ(y(n, (c * 5 + h) * 2 + w), x(n, c, h, w));
  EXPECT_TRUE(bitwise<float>(y, x.flatten()));
  expect_strategies_match_sequential<float>(Flatten<float>(), x);
}

TEST(FlattenTest, RejectsRankOne) {
  expect_throw_with([] { Flatten<double>().forward(Tensor<double>(Shape{5})); }, {"Flatten", "got [5]"});
}

TEST(FlattenBackwardTest, GradientsMatchFiniteDifferences) {
  Flatten<double> f;
  expect_gradients_match_finite_differences(f, random_tensor<double>(Shape{3, 2, 2, 3}, 3));
}

}  // namespace
}  // namespace parcnn::test
