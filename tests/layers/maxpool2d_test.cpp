// MaxPool2d against the reference on many shapes, ceil mode, padding, NaN, strategies and errors; the
// window positions its forward pass for backward records.
#include <parcnn/layers/maxpool2d.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

struct PoolCase {
  std::size_t batch, c, h, w;
  Size2d kernel;
  std::optional<Size2d> stride;
  Size2d padding;
  PoolRounding rounding;
};

const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> cases{
      {1, 1, 4, 4, 2, std::nullopt, 0, PoolRounding::floor},   {7, 5, 13, 13, 2, std::nullopt, 0, PoolRounding::floor},
      {7, 5, 13, 13, 2, std::nullopt, 0, PoolRounding::ceil},  {2, 3, 11, 9, 3, 2, 1, PoolRounding::floor},
      {2, 3, 11, 9, 3, 2, 1, PoolRounding::ceil},              {1, 17, 26, 26, 2, std::nullopt, 0, PoolRounding::floor},
      {3, 2, 7, 10, {2, 3}, Size2d{1, 2}, {1, 1}, PoolRounding::floor}, {2, 9, 5, 5, 5, 1, 2, PoolRounding::floor},
      {64, 3, 3, 3, 2, std::nullopt, 0, PoolRounding::floor},
      {2, 3, 8, 70, 2, std::nullopt, 0, PoolRounding::floor},  {1, 2, 7, 33, 2, std::nullopt, 0, PoolRounding::floor},
  };
  return cases;
}

template <class T>
Tensor<T> reference(const MaxPool2d<T>& pool, const Tensor<T>& x) {
  const auto g = pool.geometry(x.shape());
  Tensor<T> y(Shape{x.dim(0), g.out_c, g.out_h, g.out_w});
  kernels::maxpool2d_forward_reference(x.data(), g, x.dim(0), y.data());
  return y;
}

template <class T>
class MaxPool2dTest : public ::testing::Test {};
TYPED_TEST_SUITE(MaxPool2dTest, Scalars);

TYPED_TEST(MaxPool2dTest, MatchesReferenceBitwiseUnderEveryStrategy) {
  using T = TypeParam;
  std::uint64_t seed = 1;
  for (const PoolCase& c : pool_cases()) {
    const MaxPool2d<T> pool(c.kernel, c.stride, c.padding, c.rounding);
    const Tensor<T> x = random_tensor<T>(Shape{c.batch, c.c, c.h, c.w}, seed++);
    SCOPED_TRACE(pool.name() + " on " + x.shape().str());
    EXPECT_TRUE(bitwise<T>(pool.forward(x, strategy::Serial{}), reference(pool, x)));
    expect_strategies_match_sequential<T>(pool, x);
  }
}

TYPED_TEST(MaxPool2dTest, OutputSizeFollowsPyTorch) {
  using T = TypeParam;
  EXPECT_EQ(MaxPool2d<T>(2).output_shape(Shape{1, 1, 26, 26}), (Shape{1, 1, 13, 13}));
  EXPECT_EQ(MaxPool2d<T>(2).output_shape(Shape{1, 1, 11, 11}), (Shape{1, 1, 5, 5}));
  EXPECT_EQ(MaxPool2d<T>(2, std::nullopt, 0, PoolRounding::ceil).output_shape(Shape{1, 1, 11, 11}),
            (Shape{1, 1, 6, 6}));
  EXPECT_EQ(MaxPool2d<T>(3, 2, 1).output_shape(Shape{1, 1, 112, 112}), (Shape{1, 1, 56, 56}));
  // Ceil mode never starts a window in the right padding: (5 + 2 - 2) / 2 rounds up to 3, +1 = 4,
  // but window 3 would start at 6 >= 5 + 1, so 3.
  EXPECT_EQ(MaxPool2d<T>(2, 2, 1, PoolRounding::ceil).output_shape(Shape{1, 1, 5, 5}), (Shape{1, 1, 3, 3}));
}

TYPED_TEST(MaxPool2dTest, NaNInAWindowGivesNaN) {
  using T = TypeParam;
  Tensor<T> x = random_tensor<T>(Shape{1, 2, 4, 4}, 3);
  x(0, 1, 0, 0) = std::numeric_limits<T>::quiet_NaN();  // last in nothing, first in window (0, 0)
  x(0, 1, 3, 3) = std::numeric_limits<T>::quiet_NaN();  // last element scanned of window (1, 1)
  for (const Strategy& s : all_strategies()) {
    const Tensor<T> y = MaxPool2d<T>(2).forward(x, s);
    EXPECT_TRUE(std::isnan(y(0, 1, 0, 0)) && std::isnan(y(0, 1, 1, 1))) << s.name();
    EXPECT_FALSE(std::isnan(y(0, 1, 0, 1)) || std::isnan(y(0, 0, 0, 0))) << s.name();
  }
}

// Rows long enough for whole vectors and tails: NaN in every window position, and ties of -0 and +0,
// whose winner (the first in window order) shows in the sign bit.
TYPED_TEST(MaxPool2dTest, LongRowsKeepNaNAndTheFirstOfTies) {
  using T = TypeParam;
  Tensor<T> x = random_tensor<T>(Shape{1, 3, 6, 40}, 4, -1, 0);  // all negative: a zero is the maximum
  const T nan = std::numeric_limits<T>::quiet_NaN();
  x(0, 0, 0, 0) = nan, x(0, 0, 0, 35) = nan, x(0, 0, 3, 20) = nan, x(0, 0, 5, 39) = nan;
  for (std::size_t w = 0; w < 40; w += 2) {  // channel 1: every window holds a -0 and a +0
    x(0, 1, 2, w) = T(-0.0), x(0, 1, 2, w + 1) = T(0.0);
    x(0, 1, 3, w) = T(0.0), x(0, 1, 4, w + 1) = T(-0.0);
  }
  const MaxPool2d<T> pool(2);
  const Tensor<T> expected = reference(pool, x);
  EXPECT_TRUE(std::signbit(expected(0, 1, 1, 0)));  // the first zero of the window is -0
  for (const Strategy& s : all_strategies())
    EXPECT_TRUE(bitwise<T>(pool.forward(x, s), expected)) << s.name();
}

TYPED_TEST(MaxPool2dTest, RejectsBadInputWithShapes) {
  using T = TypeParam;
  expect_throw_with([] { MaxPool2d<T>(2).forward(Tensor<T>(Shape{4, 3, 1, 8})); },
                    {"MaxPool2d(k=2)", "H >= 2", "got [4, 3, 1, 8]"});
  expect_throw_with([] { MaxPool2d<T>(2).forward(Tensor<T>(Shape{4, 8})); }, {"[N, C, H, W]", "got [4, 8]"});
  expect_throw_with([] { MaxPool2d<T>(2).forward(Tensor<T>(Shape{4, 0, 4, 4})); }, {"got [4, 0, 4, 4]"});
  expect_throw_with<ConfigError>([] { MaxPool2d<T>(2, std::nullopt, 2); }, {"padding"});
  expect_throw_with<ConfigError>([] { MaxPool2d<T>(2, 0); }, {"stride"});
}

TYPED_TEST(MaxPool2dTest, AbsurdSizesAreErrorsNamingTheLayer) {
  using T = TypeParam;
  expect_throw_with<ConfigError>([] { MaxPool2d<T>(2, 2, Size2d(std::size_t(1) << 63)); }, {"MaxPool2d(k=2", "padding"});
  expect_throw_with<ConfigError>([] { MaxPool2d<T>(Size2d(std::size_t(1) << 62)); }, {"MaxPool2d", "2^60"});
  // A padded window adds a row and a column: 2^60 elements in, more out.
  expect_throw_with([] { MaxPool2d<T>(2, Size2d(1), 1).output_shape(Shape{std::size_t(1) << 40, 1, std::size_t(1) << 20, 1}); },
                    {"MaxPool2d(k=2, stride=1, pad=1)", "more than 2^60"});
}

TEST(MaxPool2dBackwardTest, ForwardForBackwardRecordsTheWindowPositionsOf2x2Windows) {
  Tensor<float> x = random_tensor<float>(Shape{3, 5, 9, 11}, 31);
  x(1, 2, 3, 4) = std::numeric_limits<float>::quiet_NaN();  // a window through window_choice itself
  x(2, 0, 0, 1) = std::numeric_limits<float>::infinity();
  x(2, 0, 1, 0) = -std::numeric_limits<float>::infinity();
  for (std::size_t threads : thread_counts())
    for (const Strategy& s : all_strategies()) {
      SCOPED_TRACE(s.name() + ", " + std::to_string(threads) + " threads");
      const MaxPool2d<float> two(2);
      Tensor<float> y(two.output_shape(x.shape()));
      Workspace<float> ws;
      Executor(threads).run([&] { two.forward_for_backward(x, y.view(), s, ws); });
      ASSERT_EQ(ws.index_count(), y.size());
      std::vector<std::uint32_t> expected(y.size());
      for (std::size_t plane = 0; plane < 15; ++plane)
        kernels::maxpool2x2_positions(x.data() + plane * 99, 11, 4, 5, expected.data() + plane * 20);
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), ws.indices()));
      EXPECT_TRUE(bitwise<float>(y, two.forward(x, strategy::Serial{})));  // one pass, forward's bits
      const MaxPool2d<float> three(3);  // not a convolution's epilogue: no positions
      Tensor<float> z(three.output_shape(x.shape()));
      Executor(threads).run([&] { three.forward_for_backward(x, z.view(), s, ws); });
      EXPECT_EQ(ws.index_count(), 0u);
    }
}

TEST(MaxPool2dBackwardTest, GradientsMatchFiniteDifferences) {
  // Random inputs: every window has a unique maximum, far (relative to the step) from the kink.
  for (const PoolCase& c : std::vector<PoolCase>{{3, 2, 6, 5, 2, std::nullopt, 0, PoolRounding::floor},
                                                 {2, 2, 7, 7, 3, 2, 1, PoolRounding::ceil}}) {
    MaxPool2d<double> pool(c.kernel, c.stride, c.padding, c.rounding);
    expect_gradients_match_finite_differences(pool, random_tensor<double>(Shape{c.batch, c.c, c.h, c.w}, 4));
  }
}

TEST(MaxPool2dBackwardTest, TiesGoToTheFirstMaximumAndOverlapsAdd) {
  Tensor<double> x(Shape{1, 1, 3, 3}, 1.0);  // all equal: every window's first element wins
  MaxPool2d<double> pool(2, 1);               // overlapping 2×2 windows, stride 1
  Tensor<double> g(Shape{1, 1, 2, 2}, 1.0);
  const Tensor<double> dx = run_backward<double>(pool, x, g, 1)[0];
  EXPECT_EQ(dx(0, 0, 0, 0), 1.0);
  EXPECT_EQ(dx(0, 0, 0, 1), 1.0);
  EXPECT_EQ(dx(0, 0, 1, 0), 1.0);
  EXPECT_EQ(dx(0, 0, 1, 1), 1.0);
  EXPECT_EQ(dx(0, 0, 2, 2), 0.0);
}

}  // namespace
}  // namespace parcnn::test
