// GELU (both forms) against the textbook formulas, on every rank, under every strategy.
#include <parcnn/layers/gelu.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class GeluTest : public ::testing::Test {};
TYPED_TEST_SUITE(GeluTest, Scalars);

template <class T>
Tensor<T> reference(GeluApproximation a, const Tensor<T>& x) {
  Tensor<T> y(x.shape());
  for (std::size_t i = 0; i < x.size(); ++i) y.data()[i] = kernels::gelu_reference(a, x.data()[i]);
  return y;
}

TYPED_TEST(GeluTest, MatchesTheFormulasOverAWideRange) {
  using T = TypeParam;
  // Tolerance: a few ulps of the larger of |x| and 1 (exp and erf are not correctly rounded).
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  for (GeluApproximation a : {GeluApproximation::none, GeluApproximation::tanh}) {
    Tensor<T> x(Shape{2001});
    for (std::size_t i = 0; i < x.size(); ++i) x(i) = T(-10.0 + 0.01 * double(i));
    const Tensor<T> y = GELU<T>(a).forward(x);
    const Tensor<T> r = reference(a, x);
    for (std::size_t i = 0; i < x.size(); ++i)
      EXPECT_NEAR(double(y(i)), double(r(i)), tol * std::max(1.0, std::abs(double(x(i))))) << "x = " << x(i);
  }
}

TYPED_TEST(GeluTest, KnownValuesAndLimits) {
  using T = TypeParam;
  Tensor<T> x(Shape{5});
  x(0) = 0;
  x(1) = 1;
  x(2) = -1;
  x(3) = T(1e4);
  x(4) = T(-1e4);
  const Tensor<T> exact = GELU<T>().forward(x);
  EXPECT_EQ(exact(0), T(0));
  EXPECT_NEAR(double(exact(1)), 0.841344746068543, 1e-6);  // Φ(1)
  EXPECT_NEAR(double(exact(2)), -0.158655253931457, 1e-6);
  EXPECT_EQ(exact(3), T(1e4));
  EXPECT_EQ(exact(4), T(0));
  const Tensor<T> tanh_form = GELU<T>(GeluApproximation::tanh).forward(x);
  EXPECT_NEAR(double(tanh_form(1)), 0.841191990607477, 1e-6);
  EXPECT_EQ(tanh_form(3), T(1e4));
  EXPECT_NEAR(double(tanh_form(4)), 0.0, 1e-30);  // exp saturates near the largest finite value
}

TYPED_TEST(GeluTest, NaNPropagates) {
  using T = TypeParam;
  Tensor<T> x = random_tensor<T>(Shape{3, 4}, 1);
  x(1, 2) = std::numeric_limits<T>::quiet_NaN();
  for (GeluApproximation a : {GeluApproximation::none, GeluApproximation::tanh}) {
    const Tensor<T> y = GELU<T>(a).forward(x);
    for (std::size_t i = 0; i < y.size(); ++i) EXPECT_EQ(std::isnan(y.data()[i]), i == 6);
  }
}

TYPED_TEST(GeluTest, EveryRankAndStrategyIsBitwiseSequential) {
  using T = TypeParam;
  for (const Shape& shape : {Shape{37}, Shape{7, 13}, Shape{3, 5, 9}, Shape{7, 5, 13, 13}, Shape{1, 17, 3, 26}})
    for (GeluApproximation a : {GeluApproximation::none, GeluApproximation::tanh}) {
      const Tensor<T> x = random_tensor<T>(shape, 7, -4, 4);
      const GELU<T> gelu(a);
      EXPECT_TRUE(near<T>(gelu.forward(x), reference(a, x), 1e-5));
      expect_strategies_match_sequential<T>(gelu, x);
    }
}

// The kernel over a span (wide chunks, chunks, a padded tail) gives each element the bits it gets alone.
TYPED_TEST(GeluTest, KernelGivesEveryElementItsBitsAlone) {
  using T = TypeParam;
  const Tensor<T> x = random_tensor<T>(Shape{203}, 8, -4, 4);
  for (GeluApproximation a : {GeluApproximation::none, GeluApproximation::tanh}) {
    Tensor<T> span(x.shape()), alone(x.shape());
    kernels::gelu(a, x.data(), span.data(), x.size());
    for (std::size_t i = 0; i < x.size(); ++i) kernels::gelu(a, x.data() + i, alone.data() + i, 1);
    EXPECT_TRUE(bitwise<T>(span, alone));
  }
}

TYPED_TEST(GeluTest, RejectsEmptyInput) {
  using T = TypeParam;
  expect_throw_with([] { GELU<T>().forward(Tensor<T>(Shape{3, 0})); }, {"GELU", "got [3, 0]"});
  expect_throw_with([] { GELU<T>().forward(Tensor<T>()); }, {"GELU", "got []"});
}

TEST(GeluBackwardTest, GradientsMatchFiniteDifferences) {
  for (GeluApproximation a : {GeluApproximation::none, GeluApproximation::tanh}) {
    GELU<double> gelu(a);
    expect_gradients_match_finite_differences(gelu, random_tensor<double>(Shape{3, 37}, 2, -5, 5));
    expect_gradients_match_finite_differences(gelu, random_tensor<double>(Shape{2, 3, 4, 5}, 3, -3, 3));
  }
}

}  // namespace
}  // namespace parcnn::test
