// Conv2d against the direct reference kernel on many shapes, under every strategy, and its errors;
// with post-ops, against the pooling and element-wise layers run after it, forward and backward.
#include <parcnn/layers/conv2d.hpp>
#include <parcnn/layers/gelu.hpp>
#include <parcnn/layers/relu.hpp>
#include <parcnn/layers/maxpool2d.hpp>
#include <parcnn/layers/sequential.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

struct ConvCase {
  std::size_t batch, in_c, out_c, h, w;
  Size2d kernel, stride, padding;
  bool bias;
};

// Odd sizes, batch 1 and 7, channel counts that are not multiples of 8, stride 2, padding 1 and 2,
// rectangular kernels, 1×1 kernels, and the letter CNN's own three convolutions.
const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cases{
      {1, 1, 1, 5, 5, 3, 1, 0, true},          {7, 3, 5, 9, 11, 3, 1, 0, true},
      {7, 5, 17, 13, 13, 3, 1, 1, true},       {1, 17, 9, 15, 7, 5, 2, 2, false},
      {2, 4, 6, 10, 12, 3, 2, 1, true},        {3, 6, 3, 8, 9, {2, 3}, {1, 2}, {1, 0}, true},
      {7, 9, 13, 6, 6, 1, 1, 0, true},         {2, 3, 7, 7, 7, 7, 1, 3, true},
      {2, 1, 32, 28, 28, 3, 1, 0, true},       {2, 32, 64, 13, 13, 3, 1, 0, true},
      {2, 64, 128, 5, 5, 3, 1, 0, true},       {1, 2, 3, 4, 4, 3, 3, 1, true},
      {7, 512, 9, 7, 7, 3, 1, 1, true},  // a long patch: fewer images per stacked GEMM (4 + 3)
  };
  return cases;
}

template <class T>
Conv2d<T> random_conv(const ConvCase& c, std::uint64_t seed) {
  Conv2d<T> conv(c.in_c, c.out_c, c.kernel, c.stride, c.padding, c.bias);
  const double scale = 1.0 / std::sqrt(double(c.in_c * c.kernel.h * c.kernel.w));
  fill_uniform<T>(conv.weight(), -scale, scale, seed);
  if (c.bias) fill_uniform<T>(conv.bias(), -0.5, 0.5, seed + 1);
  return conv;
}

template <class T>
Tensor<T> reference(const Conv2d<T>& conv, const Tensor<T>& x) {
  const auto g = conv.geometry(x.shape());
  Tensor<T> y(Shape{x.dim(0), g.out_c, g.out_h, g.out_w});
  kernels::conv2d_forward_reference(x.data(), conv.weight().data(), conv.has_bias() ? conv.bias().data() : nullptr, g,
                                    x.dim(0), y.data());
  return y;
}

template <class T>
class Conv2dTest : public ::testing::Test {};
TYPED_TEST_SUITE(Conv2dTest, Scalars);

TYPED_TEST(Conv2dTest, MatchesReferenceOnManyShapes) {
  using T = TypeParam;
  std::uint64_t seed = 10;
  for (const ConvCase& c : conv_cases()) {
    const Conv2d<T> conv = random_conv<T>(c, seed++);
    const Tensor<T> x = random_tensor<T>(Shape{c.batch, c.in_c, c.h, c.w}, seed++);
    SCOPED_TRACE(conv.name() + " on " + x.shape().str());
    const Tensor<T> y = conv.forward(x, strategy::Serial{});
    EXPECT_EQ(y.shape(), conv.output_shape(x.shape()));
    EXPECT_TRUE(near<T>(y, reference(conv, x), tolerance<T>()));
  }
}

// Which kernel a block runs: at stride 1 without post-ops, the GEMM over padded rows where at most 1/8
// of its positions are dropped; im2col's columns on a 7×7 map padded by 1, with post-ops, at stride 2,
// and on Eigen's GEMM.
TEST(Conv2dPathTest, PaddedRowsWhereLittlePaddingIsWasted) {
  const auto kernel = [](const Conv2d<float>& conv, const Shape& in, const kernels::PostOps& e = {}) {
    return conv.algorithm(in, e, Cut{1, std::size_t(in[1] == 16 ? 16 : 8), 64, 64}, 1).name;
  };
  const std::string rows = "padded input rows";
  EXPECT_NE(kernel(Conv2d<float>(16, 16, 3, 1, 1), Shape{4, 16, 28, 28}).find(rows), std::string::npos);
  EXPECT_NE(kernel(Conv2d<float>(32, 8, 3, 1, 1), Shape{4, 32, 14, 14}).find(rows), std::string::npos);
  EXPECT_EQ(kernel(Conv2d<float>(32, 8, 3, 1, 1), Shape{4, 32, 7, 7}).find(rows), std::string::npos);
  EXPECT_EQ(kernel(Conv2d<float>(16, 16, 3, 2, 1), Shape{4, 16, 28, 28}).find(rows), std::string::npos);
  const kernels::PostOps pool{{kernels::PostOp::Kind::max_pool_2x2}};
  EXPECT_EQ(kernel(Conv2d<float>(16, 16, 3, 1, 1), Shape{4, 16, 28, 28}, pool).find(rows), std::string::npos);
  Conv2d<float> eigen(16, 16, 3, 1, 1);
  eigen.use_gemm(kernels::GemmBackend::eigen);
  EXPECT_EQ(kernel(eigen, Shape{4, 16, 28, 28}).find(rows), std::string::npos);
}

// Images per stacked GEMM: as many as fill stack_columns positions, fewer where the patch is so long
// that their columns would pass stack_column_bytes.
TEST(Conv2dStackTest, StacksFewerImagesOfALongPatch) {
  // The letter CNN's conv3: 9 positions of a 576-value patch, 56 images (1.2 MB of columns).
  EXPECT_EQ(Conv2d<float>(64, 128, 3).workload(Shape{64, 64, 5, 5}).stacked_images, 56u);
  // A 3×3 512@7²: 10 images would fill the positions, 4 the bytes (0.9 MB of columns each).
  EXPECT_EQ(Conv2d<float>(512, 512, 3, 1, 1).workload(Shape{16, 512, 7, 7}).stacked_images, 4u);
  EXPECT_EQ(Conv2d<double>(512, 512, 3, 1, 1).workload(Shape{16, 512, 7, 7}).stacked_images, 2u);
}

TYPED_TEST(Conv2dTest, OutputSizeFollowsPyTorch) {
  using T = TypeParam;
  // (H + 2p - k) / s + 1, floor.
  EXPECT_EQ(Conv2d<T>(1, 1, 3).output_shape(Shape{1, 1, 28, 28}), (Shape{1, 1, 26, 26}));
  EXPECT_EQ(Conv2d<T>(1, 1, 3, 2, 1).output_shape(Shape{1, 1, 28, 27}), (Shape{1, 1, 14, 14}));
  EXPECT_EQ(Conv2d<T>(1, 1, 7, 2, 3).output_shape(Shape{1, 1, 224, 224}), (Shape{1, 1, 112, 112}));
  EXPECT_EQ(Conv2d<T>(1, 1, {1, 5}, 1, {0, 2}).output_shape(Shape{1, 1, 4, 4}), (Shape{1, 1, 4, 4}));
}

TYPED_TEST(Conv2dTest, EveryStrategyMatchesSequential) {
  using T = TypeParam;
  std::uint64_t seed = 100;
  for (const ConvCase& c : conv_cases()) {
    const Conv2d<T> conv = random_conv<T>(c, seed++);
    const Tensor<T> x = random_tensor<T>(Shape{c.batch, c.in_c, c.h, c.w}, seed++);
    expect_strategies_match_sequential<T>(conv, x);
  }
}

TYPED_TEST(Conv2dTest, ReadsInputThroughABatchView) {
  using T = TypeParam;
  const ConvCase c{7, 3, 5, 9, 9, 3, 1, 1, true};
  const Conv2d<T> conv = random_conv<T>(c, 3);
  const Tensor<T> x = random_tensor<T>(Shape{7, 3, 9, 9}, 4);
  const Tensor<T> all = conv.forward(x, strategy::Batch{});
  const Tensor<T> part = conv.forward(x.batch(2, 5), strategy::Batch{});
  EXPECT_TRUE(bitwise<T>(part, all.batch(2, 5)));
}

TYPED_TEST(Conv2dTest, RejectsBadInputWithShapes) {
  using T = TypeParam;
  const Conv2d<T> conv(32, 64, 3);
  expect_throw_with([&] { conv.forward(Tensor<T>(Shape{8, 16, 13, 13})); },
                    {"Conv2d(32->64, k=3)", "[N, 32, H, W]", "got [8, 16, 13, 13]"});
  expect_throw_with([&] { conv.forward(Tensor<T>(Shape{8, 32, 13})); }, {"Conv2d(32->64, k=3)", "got [8, 32, 13]"});
  expect_throw_with([&] { conv.forward(Tensor<T>(Shape{1, 32, 2, 5})); }, {"H >= 3", "got [1, 32, 2, 5]"});
  expect_throw_with([&] { conv.forward(Tensor<T>(Shape{0, 32, 5, 5})); }, {"N >= 1", "got [0, 32, 5, 5]"});
  // With padding 1 a 1×1 input is large enough for a 3×3 kernel.
  EXPECT_EQ(Conv2d<T>(2, 2, 3, 1, 1).output_shape(Shape{1, 2, 1, 1}), (Shape{1, 2, 1, 1}));
  expect_throw_with([&] { Conv2d<T>(2, 2, 5, 1, 1).output_shape(Shape{1, 2, 2, 4}); }, {"H >= 3", "got [1, 2, 2, 4]"});

  Conv2d<T> broken(3, 4, 3);
  broken.weight() = Tensor<T>(Shape{4, 3, 2, 2});
  expect_throw_with([&] { broken.forward(Tensor<T>(Shape{1, 3, 5, 5})); },
                    {"Conv2d(3->4, k=3)", "weight must have shape [4, 3, 3, 3]", "got [4, 3, 2, 2]"});
  Conv2d<T> bad_bias(3, 4, 3);
  bad_bias.bias() = Tensor<T>(Shape{5});
  expect_throw_with([&] { bad_bias.forward(Tensor<T>(Shape{1, 3, 5, 5})); }, {"bias must have shape [4]", "got [5]"});

  Tensor<T> wrong_out(Shape{1, 4, 2, 2});
  Workspace<T> ws;
  expect_throw_with([&] { Conv2d<T>(3, 4, 3).forward(Tensor<T>(Shape{1, 3, 5, 5}), wrong_out, {}, ws); },
                    {"output must have shape [1, 4, 3, 3]", "got [1, 4, 2, 2]"});
  expect_throw_with<ConfigError>([] { Conv2d<T>(3, 4, 3, 0); }, {"stride"});
  expect_throw_with<ConfigError>([] { Conv2d<T>(0, 4, 3); }, {"channels"});
}

// Sizes that cannot exist: parameters or outputs of more than 2^60 elements and padding that would
// wrap 2·padding are clear errors naming the layer, not objects without memory or wrapped kernels.
TYPED_TEST(Conv2dTest, AbsurdSizesAreErrorsNamingTheLayer) {
  using T = TypeParam;
  const std::size_t big = std::size_t(1) << 32;
  expect_throw_with<ConfigError>([&] { Conv2d<T>(1, 1, Size2d(big)); }, {"Conv2d(1->1, k=4294967296)", "2^60"});
  expect_throw_with<ConfigError>([&] { Conv2d<T>(1, 1, 3, 1, Size2d(std::size_t(1) << 63)); },
                                 {"Conv2d(1->1, k=3", "padding", "2^60"});
  expect_throw_with<ConfigError>([&] { Conv2d<T>(1, 1, 3, 1, Size2d(std::size_t(-1))); }, {"padding", "2^60"});
  const Conv2d<T> wide(1, 1, 3, 1, Size2d(std::size_t(1) << 40));
  expect_throw_with([&] { wide.output_shape(Shape{1, 1, 5, 5}); }, {"Conv2d(1->1, k=3", "more than 2^60"});
  EXPECT_EQ(Conv2d<T>(1, 1, 3, 1, 1000).output_shape(Shape{1, 1, 5, 5}), (Shape{1, 1, 2003, 2003}));
}

TYPED_TEST(Conv2dTest, NaNInputPropagatesToTheOutputsItTouches) {
  using T = TypeParam;
  const ConvCase c{2, 2, 3, 7, 7, 3, 1, 0, true};
  const Conv2d<T> conv = random_conv<T>(c, 5);
  Tensor<T> x = random_tensor<T>(Shape{2, 2, 7, 7}, 6);
  x(1, 0, 3, 3) = std::numeric_limits<T>::quiet_NaN();
  for (const Strategy& s : all_strategies()) {
    const Tensor<T> y = conv.forward(x, s);
    // Output (oh, ow) reads input rows oh..oh+2, columns ow..ow+2: (3, 3) reaches oh, ow in 1..3.
    for (std::size_t co = 0; co < 3; ++co)
      for (std::size_t oh = 0; oh < 5; ++oh)
        for (std::size_t ow = 0; ow < 5; ++ow) {
          const bool touched = oh >= 1 && oh <= 3 && ow >= 1 && ow <= 3;
          EXPECT_EQ(std::isnan(y(1, co, oh, ow)), touched) << s.name();
          EXPECT_FALSE(std::isnan(y(0, co, oh, ow))) << s.name();
        }
  }
}

// Post-ops a convolution runs: 2×2 pool then GELU or ReLU, the pool alone, element-wise ones alone.
std::vector<kernels::PostOps> post_op_lists() {
  using K = kernels::PostOp::Kind;
  return {{{K::max_pool_2x2}, {K::gelu_tanh}}, {{K::max_pool_2x2}}, {{K::gelu}},
          {{K::max_pool_2x2}, {K::relu}},      {{K::relu}, {K::gelu}}};
}

// The convolution, then the layers the post-ops stand for, in a Sequential: its backward runs them
// through Conv2d::backward_fused, or one by one with fusion off.
template <class T>
Sequential<T> stage_of(const Conv2d<T>& conv, const kernels::PostOps& e, bool fused) {
  Sequential<T> m;
  m.add("conv", conv);
  for (std::size_t i = 0; i < e.size(); ++i) m.add("post" + std::to_string(i), layer_of<T>(e[i]));
  m.fuse_post_ops(fused);
  return m;
}

// The convolution, then the layers the post-ops stand for, each on its own.
template <class T>
Tensor<T> layers_apart(const Conv2d<T>& conv, const kernels::PostOps& e, const Tensor<T>& x) {
  return stage_of(conv, e, /*fused=*/false).forward(x, strategy::Serial{});
}

TYPED_TEST(Conv2dTest, FusedPostOpsHaveTheBitsOfTheLayersApartUnderEveryStrategy) {
  using T = TypeParam;
  std::uint64_t seed = 200;
  for (const ConvCase& c : conv_cases()) {
    const Conv2d<T> conv = random_conv<T>(c, seed++);
    Tensor<T> x = random_tensor<T>(Shape{c.batch, c.in_c, c.h, c.w}, seed++);
    x(0, 0, c.h / 2, c.w / 2) = std::numeric_limits<T>::quiet_NaN();
    const Shape conv_out = conv.output_shape(x.shape());
    for (const kernels::PostOps& e : post_op_lists()) {
      if (e.pools() && (conv_out[2] < 2 || conv_out[3] < 2)) continue;
      const Tensor<T> expected = layers_apart(conv, e, x);
      ASSERT_EQ(conv.fused_output_shape(x.shape(), e), expected.shape());
      for (const Strategy& s : all_strategies())
        for (std::size_t threads : thread_counts()) {
          SCOPED_TRACE(conv.name() + " + " + e.str() + " on " + x.shape().str() + ", " + s.name() + ", " +
                       std::to_string(threads) + " threads");
          Tensor<T> y(expected.shape());
          Workspace<T> ws;
          Executor(threads).run([&] { conv.forward_fused(x, y.view(), e, s, ws); });
          EXPECT_TRUE(bitwise<T>(y, expected));
        }
    }
  }
}

// With Eigen's GEMM, every path (channel blocks sharing columns, blocks with their own, post-ops on
// the tile) matches the reference, and a plan run again gives the same bits; across cuts it need not.
TYPED_TEST(Conv2dTest, EigenGemmMatchesTheReferenceAndRepeatsItsBitsUnderOnePlan) {
  using T = TypeParam;
  std::uint64_t seed = 300;
  for (const ConvCase& c : conv_cases()) {
    Conv2d<T> conv = random_conv<T>(c, seed++);
    const Tensor<T> x = random_tensor<T>(Shape{c.batch, c.in_c, c.h, c.w}, seed++);
    const Tensor<T> expected = reference(conv, x);
    conv.use_gemm(kernels::GemmBackend::eigen);
    for (const Strategy& s : all_strategies())
      for (std::size_t threads : thread_counts()) {
        SCOPED_TRACE(conv.name() + " on " + x.shape().str() + ", " + s.name() + ", " + std::to_string(threads) + " threads");
        Executor executor(threads);
        Tensor<T> y1(expected.shape()), y2(expected.shape());
        Workspace<T> ws;
        executor.run([&] {
          conv.forward(x, y1.view(), s, ws);
          conv.forward(x, y2.view(), s, ws);
        });
        EXPECT_TRUE(near<T>(y1, expected, tolerance<T>()));
        EXPECT_TRUE(bitwise<T>(y1, y2));
      }
    Sequential<T> m = stage_of(conv, post_op_lists()[0], /*fused=*/true);
    m.use_gemm(kernels::GemmBackend::eigen);
    if (conv.output_shape(x.shape())[2] >= 2 && conv.output_shape(x.shape())[3] >= 2) {
      Sequential<T> apart = stage_of(conv, post_op_lists()[0], /*fused=*/false);
      EXPECT_TRUE(near<T>(m.forward(x, strategy::Batch{}), apart.forward(x, strategy::Serial{}), tolerance<T>()));
    }
  }
}

TYPED_TEST(Conv2dTest, FusedPostOpsRejectBadShapes) {
  using T = TypeParam;
  const kernels::PostOps pool{{kernels::PostOp::Kind::max_pool_2x2}};
  const Conv2d<T> conv(3, 4, 3);
  Workspace<T> ws;
  Tensor<T> wrong(Shape{1, 4, 3, 3});
  expect_throw_with([&] { conv.forward_fused(Tensor<T>(Shape{1, 3, 7, 7}), wrong, pool, {}, ws); },
                    {"Conv2d(3->4, k=3) + 2x2 max pool", "output must have shape [1, 4, 2, 2]", "got [1, 4, 3, 3]"});
  expect_throw_with([&] { conv.fused_output_shape(Shape{1, 3, 3, 5}, pool); },
                    {"Conv2d(3->4, k=3) + 2x2 max pool", "H, W >= 2", "got [1, 4, 1, 3]"});
  expect_throw_with([&] { conv.forward_fused(Tensor<T>(Shape{1, 2, 7, 7}), wrong, pool, {}, ws); },
                    {"[N, 3, H, W]", "got [1, 2, 7, 7]"});
}

// For training, a convolution runs the pool (and GELU) in its forward pass and keeps the pool's
// positions and values: the bits of the layers apart (MaxPool2d's forward for backward records the
// positions), through the direct kernel and im2col + GEMM, under every strategy and thread count.
TYPED_TEST(Conv2dTest, ForwardForBackwardThroughAPoolHasTheBitsOfTheLayersApart) {
  using T = TypeParam;
  std::uint64_t seed = 500;
  std::size_t fused_cases = 0, direct_cases = 0;
  for (const ConvCase& c : conv_cases()) {
    const Conv2d<T> conv = random_conv<T>(c, seed++);
    Tensor<T> x = random_tensor<T>(Shape{c.batch, c.in_c, c.h, c.w}, seed++);
    x(0, 0, c.h / 2, c.w / 2) = std::numeric_limits<T>::quiet_NaN();
    for (const kernels::PostOps& e : post_op_lists()) {
      if (!conv.accepts(x.shape(), e, Pass::for_backward)) continue;
      ++fused_cases;
      direct_cases += kernels::conv2d_direct_fits(conv.geometry(x.shape()));
      // The layers apart: the convolution, then the pool recording its positions, then the element-wise one.
      const MaxPool2d<T> pool(2);
      const Tensor<T> conv_out = conv.forward(x, strategy::Serial{});
      Tensor<T> pooled(pool.output_shape(conv_out.shape()));
      Workspace<T> pool_ws;
      pool.forward_for_backward(conv_out, pooled.view(), strategy::Serial{}, pool_ws);
      const std::vector<std::uint32_t> positions(pool_ws.indices(), pool_ws.indices() + pool_ws.index_count());
      ASSERT_EQ(positions.size(), pooled.size());
      const Tensor<T> expected = e.size() > 1 ? layer_of<T>(e[1])->forward(pooled, strategy::Serial{}) : pooled;
      for (const Strategy& s : all_strategies())
        for (std::size_t threads : thread_counts()) {
          SCOPED_TRACE(conv.name() + " + " + e.str() + " on " + x.shape().str() + ", " + s.name() + ", " +
                       std::to_string(threads) + " threads");
          Tensor<T> y(expected.shape()), kept(e.size() > 1 ? expected.shape() : Shape{0});
          std::vector<std::uint32_t> pos(positions.size(), 0xFFFFFFFFu);
          Workspace<T> ws;
          Executor(threads).run(
              [&] { conv.forward_fused_for_backward(x, e.size() > 1 ? kept.view() : TensorView<T>(), pos.data(), y, e, s, ws); });
          EXPECT_TRUE(bitwise<T>(y, expected));
          EXPECT_EQ(pos, positions);
          if (e.size() > 1) {
            EXPECT_TRUE(bitwise<T>(kept, pooled));
          }
        }
    }
  }
  EXPECT_GE(direct_cases, 12u);  // the small-patch cases, with and without an element-wise post-op
  EXPECT_GE(fused_cases - direct_cases, 12u);
}

TYPED_TEST(Conv2dTest, ForwardForBackwardThroughAPoolRejectsWhatItCannotRun) {
  using T = TypeParam;
  using K = kernels::PostOp::Kind;
  const kernels::PostOps pool{{K::max_pool_2x2}}, gelu{{K::gelu}}, pool_gelu{{K::max_pool_2x2}, {K::gelu}},
      pool_gelu_relu{{K::max_pool_2x2}, {K::gelu}, {K::relu}};
  const Conv2d<T> conv(3, 4, 3);
  const Tensor<T> x(Shape{1, 3, 7, 7});
  Tensor<T> y(Shape{1, 4, 2, 2}), pooled(Shape{1, 4, 2, 2}), wrong(Shape{1, 4, 3, 3});
  std::vector<std::uint32_t> pos(16);
  Workspace<T> ws;
  expect_throw_with<ConfigError>([&] { conv.forward_fused_for_backward(x, {}, pos.data(), y, gelu, {}, ws); },
                                 {"Conv2d(3->4, k=3)", "cannot run the post-ops GELU on its output for backward"});
  expect_throw_with<ConfigError>(
      [&] { conv.forward_fused_for_backward(x, pooled, pos.data(), y, pool_gelu_relu, {}, ws); },
      {"Conv2d(3->4, k=3)", "cannot run the post-ops 2x2 max pool + GELU + ReLU on its output for backward"});
  const Conv2d<T> long_patch(4, 4, 3);  // K = 36: im2col + GEMM; an output of one row has no window
  EXPECT_TRUE(long_patch.accepts(Shape{1, 4, 7, 7}, pool_gelu, Pass::for_backward));
  expect_throw_with<ConfigError>(
      [&] { long_patch.forward_fused_for_backward(Tensor<T>(Shape{1, 4, 3, 7}), pooled, pos.data(), y, pool_gelu, {}, ws); },
      {"Conv2d(4->4, k=3)", "cannot run the post-ops 2x2 max pool + GELU"});
  expect_throw_with([&] { conv.forward_fused_for_backward(x, {}, pos.data(), wrong, pool, {}, ws); },
                    {"Conv2d(3->4, k=3) + 2x2 max pool", "output must have shape [1, 4, 2, 2]", "got [1, 4, 3, 3]"});
  expect_throw_with([&] { conv.forward_fused_for_backward(x, wrong, pos.data(), y, pool_gelu, {}, ws); },
                    {"Conv2d(3->4, k=3) + 2x2 max pool + GELU", "pooled values must have shape [1, 4, 2, 2]",
                     "got [1, 4, 3, 3]"});
  expect_throw_with([&] { conv.forward_fused_for_backward(x, pooled, pos.data(), y, pool, {}, ws); },
                    {"pooled values must have shape [] (the output holds them)", "got [1, 4, 2, 2]"});
  expect_throw_with<ConfigError>([&] { conv.forward_fused_for_backward(x, pooled, nullptr, y, pool_gelu, {}, ws); },
                                 {"needs the positions' memory"});
}

TYPED_TEST(Conv2dTest, FusedBackwardMatchesTheLayersApartWithTheSameBitsOnEveryThreadCount) {
  using T = TypeParam;
  std::uint64_t seed = 300;
  for (const ConvCase& c : conv_cases()) {
    const Conv2d<T> conv = random_conv<T>(c, seed++);
    const Tensor<T> x = random_tensor<T>(Shape{c.batch, c.in_c, c.h, c.w}, seed++);
    const Shape conv_out = conv.output_shape(x.shape());
    if (conv_out[2] < 2 || conv_out[3] < 2) continue;
    for (const kernels::PostOps& e : post_op_lists()) {
      if (!e.pools()) continue;
      SCOPED_TRACE(conv.name() + " + " + e.str() + " on " + x.shape().str());
      ASSERT_TRUE(conv.accepts(x.shape(), e, Pass::for_backward));
      const Sequential<T> fused = stage_of(conv, e, true), apart = stage_of(conv, e, false);
      const Tensor<T> grad = random_tensor<T>(fused.output_shape(x.shape()), seed++);
      const std::vector<Tensor<T>> expected = run_backward<T>(apart, x, grad, 2);
      const std::vector<Tensor<T>> first = run_backward<T>(fused, x, grad, 2);
      for (std::size_t i = 0; i < expected.size(); ++i)
        EXPECT_TRUE(near<T>(first[i], expected[i], tolerance<T>())) << "gradient " << i << " (0: the input's)";
      for (std::size_t threads : thread_counts()) {
        const std::vector<Tensor<T>> again = Executor(threads).run([&] { return run_backward<T>(fused, x, grad, 2); });
        for (std::size_t i = 0; i < first.size(); ++i)
          EXPECT_TRUE(bitwise<T>(again[i], first[i])) << "gradient " << i << ", " << threads << " threads";
      }
    }
  }
}

TEST(Conv2dBackwardTest, FusedGradientsMatchFiniteDifferences) {
  using K = kernels::PostOp::Kind;
  const std::vector<kernels::PostOps> lists{{{K::max_pool_2x2}, {K::gelu_tanh}}, {{K::max_pool_2x2}, {K::relu}}};
  for (const kernels::PostOps& e : lists)
    for (const ConvCase& c : std::vector<ConvCase>{{3, 2, 3, 6, 5, 3, 1, 0, true}, {2, 3, 17, 9, 8, 3, 2, 1, true}}) {
      SCOPED_TRACE(e.str());
      Sequential<double> stage = stage_of(random_conv<double>(c, 11), e, true);
      const Tensor<double> x = random_tensor<double>(Shape{c.batch, c.in_c, c.h, c.w}, 12);
      expect_gradients_match_finite_differences(stage, x);
    }
}

TEST(Conv2dBackwardTest, FusedBackwardRejectsBadShapesAndPostOps) {
  const kernels::PostOps pool{{kernels::PostOp::Kind::max_pool_2x2}}, gelu{{kernels::PostOp::Kind::gelu}};
  const Conv2d<float> conv(3, 4, 3);
  const Tensor<float> x(Shape{1, 3, 7, 7}), y(Shape{1, 4, 5, 5}), pooled(Shape{1, 4, 2, 2}), wrong(Shape{1, 4, 3, 3});
  GradientChunks<float> chunks;
  chunks.plan(conv.parameter_shapes(), 1, 1);
  Workspace<float> ws;
  Tensor<float> dx(x.shape());
  expect_throw_with([&] { conv.backward_fused(x, y, wrong, pooled, dx, pool, {&chunks, 0}, ws); },
                    {"Conv2d(3->4, k=3) + 2x2 max pool", "pooled maps and their gradient [1, 4, 2, 2]", "[1, 4, 3, 3]"});
  expect_throw_with<ConfigError>([&] { conv.backward_fused(x, y, y, y, dx, gelu, {&chunks, 0}, ws); },
                                 {"Conv2d(3->4, k=3)", "cannot run its backward pass through the post-ops GELU"});
  EXPECT_FALSE(conv.accepts(Shape{1, 3, 3, 7}, pool, Pass::for_backward));  // an output of one row
}

TEST(Conv2dBackwardTest, GradientsMatchFiniteDifferences) {
  for (const ConvCase& c : std::vector<ConvCase>{{3, 2, 3, 6, 5, 3, 1, 0, true},
                                                 {2, 3, 4, 7, 7, 3, 2, 1, true},
                                                 {3, 1, 5, 5, 6, {2, 3}, {1, 2}, {1, 1}, false}}) {
    Conv2d<double> conv = random_conv<double>(c, 7);
    const Tensor<double> x = random_tensor<double>(Shape{c.batch, c.in_c, c.h, c.w}, 8);
    expect_gradients_match_finite_differences(conv, x);
  }
}

// --- groups and dilation ---

struct GroupedCase {
  std::size_t batch, in_c, out_c, h, w;
  Size2d kernel, stride, padding, dilation;
  std::size_t groups;
  bool bias;
};

// Two and three groups, depthwise (groups = in_c, one and two outputs per channel), dilation square
// and rectangular, with stride and padding, and both at once; batch 1 and 7, odd sizes.
const std::vector<GroupedCase>& grouped_cases() {
  static const std::vector<GroupedCase> cases{
      {7, 4, 6, 9, 11, 3, 1, 1, 1, 2, true},   {1, 6, 9, 8, 7, 3, 2, 1, 1, 3, false},
      {7, 5, 10, 6, 6, 3, 1, 1, 1, 5, true},   {2, 16, 16, 5, 5, 3, 1, 1, 1, 16, true},
      {3, 3, 5, 9, 9, 3, 1, 2, 2, 1, true},    {1, 2, 3, 8, 10, {2, 3}, {1, 2}, {1, 0}, {2, 3}, 1, true},
      {7, 4, 8, 10, 9, 3, 1, 0, 2, 4, true},   {2, 4, 4, 7, 7, 3, 1, 3, 3, 2, false},
      {2, 1, 4, 12, 12, 3, 1, 0, 2, 1, true},  // a patch the direct kernel would take were it not dilated
  };
  return cases;
}

Conv2dOptions options_of(const GroupedCase& c) {
  return Conv2dOptions().stride(c.stride).padding(c.padding).dilation(c.dilation).groups(c.groups).bias(c.bias);
}

template <class T>
Conv2d<T> random_conv(const GroupedCase& c, std::uint64_t seed) {
  Conv2d<T> conv(c.in_c, c.out_c, c.kernel, options_of(c));
  fill_uniform<T>(conv.weight(), -0.5, 0.5, seed);
  if (c.bias) fill_uniform<T>(conv.bias(), -0.5, 0.5, seed + 1);
  return conv;
}

TYPED_TEST(Conv2dTest, GroupedAndDilatedMatchTheReferenceWithPyTorchsSizesUnderEveryStrategy) {
  using T = TypeParam;
  std::uint64_t seed = 500;
  for (const GroupedCase& c : grouped_cases()) {
    const Conv2d<T> conv = random_conv<T>(c, seed++);
    const Tensor<T> x = random_tensor<T>(Shape{c.batch, c.in_c, c.h, c.w}, seed++);
    SCOPED_TRACE(conv.name() + " on " + x.shape().str());
    EXPECT_EQ(conv.weight().shape(), (Shape{c.out_c, c.in_c / c.groups, c.kernel.h, c.kernel.w}));
    // PyTorch: (H + 2·pad − dilation·(k − 1) − 1) / stride + 1
    const std::size_t oh = (c.h + 2 * c.padding.h - c.dilation.h * (c.kernel.h - 1) - 1) / c.stride.h + 1;
    const std::size_t ow = (c.w + 2 * c.padding.w - c.dilation.w * (c.kernel.w - 1) - 1) / c.stride.w + 1;
    const Tensor<T> y = conv.forward(x, strategy::Serial{});
    EXPECT_EQ(y.shape(), (Shape{c.batch, c.out_c, oh, ow}));
    EXPECT_TRUE(near<T>(y, reference(conv, x), tolerance<T>()));
    expect_strategies_match_sequential<T>(conv, x);
  }
}

// The reference itself, on one case small enough to add up by hand: two groups of one channel each,
// dilation 2, so output (0, 0) of group j reads input channel j at rows and columns 0 and 2.
TEST(Conv2dGroupedReferenceTest, ReadsOnlyItsGroupsChannelsAtTheDilatedTaps) {
  Conv2d<double> conv(2, 2, 2, Conv2dOptions().dilation(2).groups(2).bias(false));
  Tensor<double> x(Shape{1, 2, 3, 3});
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = double(i);  // channel 1 = channel 0 + 9
  std::fill_n(conv.weight().data(), 8, 1.0);
  const Tensor<double> y = conv.forward(x, strategy::Serial{});
  ASSERT_EQ(y.shape(), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(y(0, 0, 0, 0), 0.0 + 2 + 6 + 8);
  EXPECT_EQ(y(0, 1, 0, 0), 9.0 + 11 + 15 + 17);
  EXPECT_EQ(reference(conv, x)(0, 1, 0, 0), 9.0 + 11 + 15 + 17);
}

TYPED_TEST(Conv2dTest, GroupedAndDilatedFusedPostOpsHaveTheBitsOfTheLayersApart) {
  using T = TypeParam;
  std::uint64_t seed = 700;
  for (const GroupedCase& c : grouped_cases()) {
    const Conv2d<T> conv = random_conv<T>(c, seed++);
    const Tensor<T> x = random_tensor<T>(Shape{c.batch, c.in_c, c.h, c.w}, seed++);
    const Shape conv_out = conv.output_shape(x.shape());
    for (const kernels::PostOps& e : post_op_lists()) {
      if (e.pools() && (conv_out[2] < 2 || conv_out[3] < 2)) continue;
      // Training takes no post-ops of a grouped or dilated convolution: its pool runs apart.
      EXPECT_FALSE(conv.accepts(x.shape(), e, Pass::for_backward));
      const Tensor<T> expected = layers_apart(conv, e, x);
      for (const Strategy& s : all_strategies()) {
        SCOPED_TRACE(conv.name() + " + " + e.str() + " on " + x.shape().str() + ", " + s.name());
        Tensor<T> y(expected.shape());
        Workspace<T> ws;
        Executor(2).run([&] { conv.forward_fused(x, y.view(), e, s, ws); });
        EXPECT_TRUE(bitwise<T>(y, expected));
      }
    }
  }
}

TEST(Conv2dBackwardTest, GroupedAndDilatedGradientsMatchFiniteDifferences) {
  for (const GroupedCase& c : std::vector<GroupedCase>{{3, 4, 6, 6, 5, 3, 1, 1, 1, 2, true},
                                                       {2, 3, 3, 6, 6, 3, 1, 1, 1, 3, true},
                                                       {2, 2, 3, 7, 8, {2, 3}, {1, 2}, {2, 1}, {2, 3}, 1, false},
                                                       {3, 4, 8, 7, 7, 3, 2, 2, 2, 4, true}}) {
    Conv2d<double> conv = random_conv<double>(c, 9);
    const Tensor<double> x = random_tensor<double>(Shape{c.batch, c.in_c, c.h, c.w}, 10);
    SCOPED_TRACE(conv.name());
    expect_gradients_match_finite_differences(conv, x);
  }
}

// A grouped convolution, a pool, ReLU and a dilated convolution in a Sequential (the pool runs apart
// from the grouped convolution in training): gradients against finite differences, the same bits on
// 1, 2 and 3 threads.
TEST(Conv2dBackwardTest, GroupedModelGradientsMatchFiniteDifferencesThroughAPool) {
  manual_seed(11);  // the default initialisation's weights, whatever ran before in this program
  Sequential<double> m;
  m.add("dw", Conv2d<double>(2, 4, 3, Conv2dOptions().padding(1).groups(2)));
  m.add("pool", MaxPool2d<double>(2));
  m.add("relu", ReLU<double>());
  m.add("dilated", Conv2d<double>(4, 3, 3, Conv2dOptions().dilation(2).padding(2)));
  const Tensor<double> x = random_tensor<double>(Shape{3, 2, 8, 8}, 11);
  expect_gradients_match_finite_differences(m, x);
}

TYPED_TEST(Conv2dTest, GroupsAndDilationRejectBadSettings) {
  using T = TypeParam;
  expect_throw_with<ConfigError>([] { Conv2d<T>(6, 4, 3, Conv2dOptions().groups(4)); },
                                 {"Conv2d(6->4, k=3, groups=4)", "divide both channel counts (6 and 4)"});
  expect_throw_with<ConfigError>([] { Conv2d<T>(6, 4, 3, Conv2dOptions().groups(0)); }, {"groups must be at least 1"});
  expect_throw_with<ConfigError>([] { Conv2d<T>(6, 4, 3, Conv2dOptions().dilation({1, 0})); },
                                 {"dilation must be at least 1"});
  expect_throw_with<ConfigError>([] { Conv2d<T>(1, 1, 3, Conv2dOptions().dilation(std::size_t(1) << 59)); },
                                 {"dilation times kernel size", "2^60"});
  // Dilation widens the smallest input: a 3×3 at dilation 2 spans 5×5.
  const Conv2d<T> dilated(1, 1, 3, Conv2dOptions().dilation(2));
  expect_throw_with([&] { dilated.forward(Tensor<T>(Shape{1, 1, 4, 5})); },
                    {"Conv2d(1->1, k=3, dilation=2)", "H >= 5, W >= 5", "got [1, 1, 4, 5]"});
  Conv2d<T> broken(4, 4, 3, Conv2dOptions().groups(2));
  broken.weight() = Tensor<T>(Shape{4, 4, 3, 3});
  expect_throw_with([&] { broken.forward(Tensor<T>(Shape{1, 4, 5, 5})); },
                    {"weight must have shape [4, 2, 3, 3]", "got [4, 4, 3, 3]"});
}

}  // namespace
}  // namespace parcnn::test
