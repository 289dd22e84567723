// Softmax against its formula in long double, under every strategy; rows sum to 1 and large values do
// not overflow; its backward pass against finite differences.
#include <parcnn/layers/softmax.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class SoftmaxTest : public ::testing::Test {};
TYPED_TEST_SUITE(SoftmaxTest, Scalars);

TYPED_TEST(SoftmaxTest, MatchesTheFormulaUnderEveryStrategy) {
  using T = TypeParam;
  const Softmax<T> softmax;
  EXPECT_EQ(softmax.name(), "Softmax(dim=1)");
  for (const Shape& shape : {Shape{1, 1}, Shape{1, 26}, Shape{7, 10}, Shape{64, 37}}) {
    Tensor<T> x = random_tensor<T>(shape, 5, -20, 20);
    x.data()[0] = T(1000);  // would overflow exp without the shift
    const Tensor<T> y = softmax.forward(x);
    for (std::size_t n = 0; n < shape[0]; ++n) {
      long double m = -INFINITY, sum = 0, total = 0;
      for (std::size_t c = 0; c < shape[1]; ++c) m = std::max<long double>(m, x(n, c));
      for (std::size_t c = 0; c < shape[1]; ++c) sum += std::exp((long double)x(n, c) - m);
      for (std::size_t c = 0; c < shape[1]; ++c) {
        const long double e = std::exp((long double)x(n, c) - m) / sum;
        // exp(x − m) turns the rounding of x − m into a relative error of |x − m| ulps.
        const double tol = std::numeric_limits<T>::epsilon() * double(e) * (4 + std::abs(double(x(n, c) - m)));
        EXPECT_NEAR(double(y(n, c)), double(e), tol);
        total += y(n, c);
      }
      EXPECT_NEAR(double(total), 1.0, 1e-5);
    }
    expect_strategies_match_sequential<T>(softmax, x);
  }
}

TYPED_TEST(SoftmaxTest, ANanMakesItsRowNan) {
  using T = TypeParam;
  Tensor<T> x = random_tensor<T>(Shape{2, 5}, 1);
  x(0, 3) = std::numeric_limits<T>::quiet_NaN();
  const Tensor<T> y = Softmax<T>().forward(x);
  for (std::size_t c = 0; c < 5; ++c) {
    EXPECT_TRUE(std::isnan(y(0, c)));
    EXPECT_FALSE(std::isnan(y(1, c)));
  }
}

TEST(SoftmaxBackwardTest, GradientsMatchFiniteDifferences) {
  Softmax<double> softmax;
  expect_gradients_match_finite_differences(softmax, random_tensor<double>(Shape{5, 13}, 2, -3, 3));
}

TEST(SoftmaxTest, RejectsOtherRanks) {
  expect_throw_with([] { Softmax<float>().forward(Tensor<float>(Shape{2, 3, 4})); },
                    {"Softmax(dim=1)", "expected input [N, C]", "got [2, 3, 4]"});
}

}  // namespace
}  // namespace parcnn::test
