// LogSoftmax against the reference, its stability on huge values, strategies and errors.
#include <parcnn/layers/log_softmax.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class LogSoftmaxTest : public ::testing::Test {};
TYPED_TEST_SUITE(LogSoftmaxTest, Scalars);

template <class T>
Tensor<T> reference(const Tensor<T>& x) {
  Tensor<T> y(x.shape());
  kernels::log_softmax_reference(x.data(), x.dim(0), x.dim(1), y.data());
  return y;
}

TYPED_TEST(LogSoftmaxTest, MatchesReferenceAndRowsSumToOne) {
  using T = TypeParam;
  for (const Shape& s : {Shape{1, 1}, Shape{7, 26}, Shape{64, 10}, Shape{3, 1000}}) {
    const Tensor<T> x = random_tensor<T>(s, 5, -20, 20);
    const Tensor<T> y = LogSoftmax<T>().forward(x);
    EXPECT_TRUE(near<T>(y, reference(x), std::is_same_v<T, float> ? 1e-6 : 1e-14)) << s.str();
    for (std::size_t n = 0; n < s[0]; ++n) {
      double total = 0;
      for (std::size_t c = 0; c < s[1]; ++c) total += std::exp(double(y(n, c)));
      EXPECT_NEAR(total, 1.0, 1e-5);
    }
    expect_strategies_match_sequential<T>(LogSoftmax<T>(), x);
  }
}

TYPED_TEST(LogSoftmaxTest, StableForHugeValues) {
  using T = TypeParam;
  Tensor<T> x(Shape{2, 3});
  const T big = std::numeric_limits<T>::max() / 4;
  x(0, 0) = big, x(0, 1) = big, x(0, 2) = -big;
  x(1, 0) = -1000, x(1, 1) = -1000, x(1, 2) = -1000;
  const Tensor<T> y = LogSoftmax<T>().forward(x);
  EXPECT_NEAR(double(y(0, 0)), -std::log(2.0), 1e-6);
  EXPECT_NEAR(double(y(0, 1)), -std::log(2.0), 1e-6);
  EXPECT_LT(y(0, 2), -big);  // -2·big - log 2: finite, and its probability is 0
  for (std::size_t c = 0; c < 3; ++c) EXPECT_NEAR(double(y(1, c)), -std::log(3.0), 1e-6);
}

TYPED_TEST(LogSoftmaxTest, NaNMakesItsRowNaN) {
  using T = TypeParam;
  Tensor<T> x = random_tensor<T>(Shape{2, 4}, 1);
  x(1, 3) = std::numeric_limits<T>::quiet_NaN();
  const Tensor<T> y = LogSoftmax<T>().forward(x);
  for (std::size_t c = 0; c < 4; ++c) {
    EXPECT_FALSE(std::isnan(y(0, c)));
    EXPECT_TRUE(std::isnan(y(1, c)));
  }
}

TYPED_TEST(LogSoftmaxTest, RejectsBadInput) {
  using T = TypeParam;
  expect_throw_with([] { LogSoftmax<T>().forward(Tensor<T>(Shape{2, 3, 4})); }, {"LogSoftmax", "[N, C]", "got [2, 3, 4]"});
  expect_throw_with([] { LogSoftmax<T>().forward(Tensor<T>(Shape{2, 0})); }, {"got [2, 0]"});
}

TEST(LogSoftmaxBackwardTest, GradientsMatchFiniteDifferences) {
  LogSoftmax<double> l;
  expect_gradients_match_finite_differences(l, random_tensor<double>(Shape{4, 9}, 3, -3, 3));
}

}  // namespace
}  // namespace parcnn::test
