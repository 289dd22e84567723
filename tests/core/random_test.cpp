// Seeded fills and the comparison helpers.
#include <parcnn/core/compare.hpp>
#include <parcnn/core/random.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(RandomTest, SameSeedSameValuesOtherSeedOtherValues) {
  Tensor<float> a(Shape{1000}), b(Shape{1000}), c(Shape{1000});
  fill_uniform<float>(a, -1, 1, 42);
  fill_uniform<float>(b, -1, 1, 42);
  fill_uniform<float>(c, -1, 1, 43);
  EXPECT_TRUE(bitwise_equal<float>(a, b));
  EXPECT_FALSE(bitwise_equal<float>(a, c));
}

TEST(RandomTest, UniformStaysInRangeWithTheRightMean) {
  Tensor<double> t(Shape{100000});
  fill_uniform<double>(t, 2, 4, 1);
  double sum = 0;
  for (double v : t) {
    EXPECT_GE(v, 2.0);
    EXPECT_LT(v, 4.0);
    sum += v;
  }
  EXPECT_NEAR(sum / 1e5, 3.0, 0.01);
}

TEST(RandomTest, NormalHasTheRequestedMoments) {
  Tensor<double> t(Shape{100001});  // odd count: the last value comes from half a Box–Muller pair
  fill_normal<double>(t, 1.0, 0.5, 3);
  double sum = 0, sq = 0;
  for (double v : t) sum += v, sq += v * v;
  const double mean = sum / double(t.size());
  EXPECT_NEAR(mean, 1.0, 0.01);
  EXPECT_NEAR(std::sqrt(sq / double(t.size()) - mean * mean), 0.5, 0.01);
}

TEST(CompareTest, DifferencesAndNaN) {
  Tensor<float> a(Shape{3}), b(Shape{3});
  a(0) = 1, a(1) = 100, a(2) = -2;
  b(0) = 1, b(1) = 101, b(2) = -2;
  EXPECT_DOUBLE_EQ(max_abs_diff<float>(a, b), 1.0);
  EXPECT_NEAR(max_rel_diff<float>(a, b), 1.0 / 101.0, 1e-9);
  EXPECT_FALSE(bitwise_equal<float>(a, b));
  b(1) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(max_abs_diff<float>(a, b)));
  EXPECT_THROW(max_abs_diff<float>(a, Tensor<float>(Shape{4})), ShapeError);
}

}  // namespace
}  // namespace parcnn::test
