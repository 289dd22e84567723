// Linear against the reference, under every strategy, and its errors.
#include <parcnn/layers/linear.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class LinearTest : public ::testing::Test {};
TYPED_TEST_SUITE(LinearTest, Scalars);

template <class T>
Linear<T> random_linear(std::size_t in, std::size_t out, bool bias, std::uint64_t seed) {
  Linear<T> l(in, out, bias);
  fill_uniform<T>(l.weight(), -1.0 / std::sqrt(double(in)), 1.0 / std::sqrt(double(in)), seed);
  if (bias) fill_uniform<T>(l.bias(), -0.5, 0.5, seed + 1);
  return l;
}

template <class T>
Tensor<T> reference(const Linear<T>& l, const Tensor<T>& x) {
  Tensor<T> y(Shape{x.dim(0), l.out_features()});
  kernels::linear_forward_reference(x.data(), l.weight().data(), l.has_bias() ? l.bias().data() : nullptr, x.dim(0),
                                    l.in_features(), l.out_features(), y.data());
  return y;
}

struct LinearCase {
  std::size_t batch, in, out;
  bool bias;
};

TYPED_TEST(LinearTest, MatchesReferenceAndEveryStrategyMatchesSequential) {
  using T = TypeParam;
  std::uint64_t seed = 1;
  for (const LinearCase& c : std::vector<LinearCase>{{1, 1, 1, true},
                                                     {7, 13, 5, true},
                                                     {1, 128, 512, true},
                                                     {7, 512, 256, false},
                                                     {64, 256, 26, true},
                                                     {3, 33, 17, true}}) {
    const Linear<T> l = random_linear<T>(c.in, c.out, c.bias, seed++);
    const Tensor<T> x = random_tensor<T>(Shape{c.batch, c.in}, seed++);
    SCOPED_TRACE(l.name() + " on " + x.shape().str());
    EXPECT_TRUE(near<T>(l.forward(x, strategy::Serial{}), reference(l, x), tolerance<T>()));
    expect_strategies_match_sequential<T>(l, x);
  }
}

TYPED_TEST(LinearTest, EigenGemmMatchesTheReferenceAndRepeatsItsBitsUnderOnePlan) {
  using T = TypeParam;
  Linear<T> l = random_linear<T>(128, 512, true, 7);
  const Tensor<T> x = random_tensor<T>(Shape{7, 128}, 8);
  const Tensor<T> expected = reference(l, x);
  l.use_gemm(kernels::GemmBackend::eigen);
  EXPECT_EQ(l.gemm(), kernels::GemmBackend::eigen);
  for (const Strategy& s : all_strategies()) {
    SCOPED_TRACE(s.name());
    const Tensor<T> y1 = with_threads(2, [&] { return l.forward(x, s); });
    const Tensor<T> y2 = with_threads(2, [&] { return l.forward(x, s); });
    EXPECT_TRUE(near<T>(y1, expected, tolerance<T>()));
    EXPECT_TRUE(bitwise<T>(y1, y2));
  }
}

TYPED_TEST(LinearTest, RejectsBadInputWithShapes) {
  using T = TypeParam;
  const Linear<T> l(128, 512);
  expect_throw_with([&] { l.forward(Tensor<T>(Shape{4, 127})); }, {"Linear(128->512)", "[N, 128]", "got [4, 127]"});
  expect_throw_with([&] { l.forward(Tensor<T>(Shape{4, 128, 1, 1})); }, {"got [4, 128, 1, 1]", "flatten"});
  Linear<T> broken(3, 2);
  broken.weight() = Tensor<T>(Shape{3, 2});
  expect_throw_with([&] { broken.forward(Tensor<T>(Shape{1, 3})); }, {"weight must have shape [2, 3]", "got [3, 2]"});
  expect_throw_with<ConfigError>([] { Linear<T>(0, 3); }, {"Linear(0->3)"});
}

TYPED_TEST(LinearTest, AbsurdSizesAreErrorsNamingTheLayer) {
  using T = TypeParam;
  const std::size_t big = std::size_t(1) << 32;
  expect_throw_with<ConfigError>([&] { Linear<T>(big, big); }, {"Linear(4294967296->4294967296)", "2^60"});
}

// No layer runs in place: an output that overlaps its input (which silently gave a wrong result) is an
// error naming the layer; a view of another part of the same buffer is fine.
TYPED_TEST(LinearTest, AnOutputOverlappingTheInputIsAnError) {
  using T = TypeParam;
  Linear<T> fc(4, 4);
  fill_uniform<T>(fc.weight(), -1, 1, 3);
  Tensor<T> buffer = random_tensor<T>(Shape{3, 4}, 5);
  Workspace<T> ws;
  expect_throw_with([&] { fc.forward(buffer.view(), buffer.view(), {}, ws); },
                    {"Linear(4->4)", "overlaps the input", "in place"});
  Tensor<T> both = random_tensor<T>(Shape{4, 4}, 6);
  expect_throw_with([&] { fc.forward(both.batch(0, 2), both.batch(1, 3), {}, ws); }, {"overlaps"});
  const Tensor<T> expected = fc.forward(both.batch(0, 2));
  fc.forward(both.batch(0, 2), both.batch(2, 4), {}, ws);
  EXPECT_TRUE(bitwise<T>(both.batch(2, 4), expected));
}

TYPED_TEST(LinearTest, NaNPropagatesToItsRowOnly) {
  using T = TypeParam;
  const Linear<T> l = random_linear<T>(5, 4, true, 3);
  Tensor<T> x = random_tensor<T>(Shape{3, 5}, 4);
  x(1, 2) = std::numeric_limits<T>::quiet_NaN();
  const Tensor<T> y = l.forward(x, strategy::Channel{});
  for (std::size_t n = 0; n < 3; ++n)
    for (std::size_t o = 0; o < 4; ++o) EXPECT_EQ(std::isnan(y(n, o)), n == 1);
}

TEST(LinearBackwardTest, GradientsMatchFiniteDifferences) {
  for (const LinearCase& c : std::vector<LinearCase>{{5, 7, 3, true}, {3, 33, 17, false}, {1, 4, 40, true}}) {
    Linear<double> l = random_linear<double>(c.in, c.out, c.bias, 5);
    expect_gradients_match_finite_differences(l, random_tensor<double>(Shape{c.batch, c.in}, 6));
  }
}

}  // namespace
}  // namespace parcnn::test
