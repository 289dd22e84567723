// ReLU (an element-wise layer) against max(x, 0) on every rank, under every strategy; its backward
// against finite differences; and as a post-op of the layer before it.
#include <parcnn/layers/conv2d.hpp>
#include <parcnn/layers/flatten.hpp>
#include <parcnn/layers/linear.hpp>
#include <parcnn/layers/maxpool2d.hpp>
#include <parcnn/layers/relu.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class ReluTest : public ::testing::Test {};
TYPED_TEST_SUITE(ReluTest, Scalars);

TYPED_TEST(ReluTest, IsMaxOfXAndZeroOnEveryRankAndStrategy) {
  using T = TypeParam;
  const ReLU<T> relu;
  EXPECT_EQ(relu.name(), "ReLU");
  for (const Shape& shape : {Shape{37}, Shape{7, 13}, Shape{3, 5, 9}, Shape{7, 5, 13, 13}, Shape{1, 17, 3, 26}}) {
    Tensor<T> x = random_tensor<T>(shape, 3, -2, 2);
    x.data()[1] = std::numeric_limits<T>::quiet_NaN();
    x.data()[2] = T(0);
    x.data()[3] = -std::numeric_limits<T>::infinity();
    const Tensor<T> y = relu.forward(x);
    ASSERT_EQ(y.shape(), shape);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const T v = x.data()[i];
      if (std::isnan(v)) EXPECT_TRUE(std::isnan(y.data()[i]));
      else EXPECT_EQ(y.data()[i], v > T(0) ? v : T(0)) << "x = " << v;
    }
    expect_strategies_match_sequential<T>(relu, x);
  }
}

TYPED_TEST(ReluTest, RejectsEmptyInput) {
  using T = TypeParam;
  expect_throw_with([] { ReLU<T>().forward(Tensor<T>(Shape{3, 0})); }, {"ReLU", "got [3, 0]"});
}

// The gradient passes where x > 0 and is 0 elsewhere, 0 included.
TYPED_TEST(ReluTest, BackwardPassesTheGradientWhereTheInputIsPositive) {
  using T = TypeParam;
  const Tensor<T> x = random_tensor<T>(Shape{4, 33}, 5, -1, 1), g = random_tensor<T>(x.shape(), 6);
  Tensor<T> dx(x.shape());
  Workspace<T> ws;
  const ReLU<T> relu;
  relu.backward(x, relu.forward(x), g, dx, {}, ws);
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(dx.data()[i], x.data()[i] > T(0) ? g.data()[i] : T(0));
}

TEST(ReluBackwardTest, GradientsMatchFiniteDifferences) {
  // Values kept away from the kink at 0, where the two sides' slopes differ.
  Tensor<double> x = random_tensor<double>(Shape{3, 37}, 2, 0.1, 2);
  for (std::size_t i = 0; i < x.size(); i += 2) x.data()[i] = -x.data()[i];
  ReLU<double> relu;
  expect_gradients_match_finite_differences(relu, x);
}

// Any layer runs element-wise post-ops on its output in inference (Layer::accepts' default), none for
// training unless it keeps what its fused backward reads; the bits are the layers' run apart.
TYPED_TEST(ReluTest, RunsAsAPostOpOfAnyLayer) {
  using T = TypeParam;
  using K = kernels::PostOp::Kind;
  const kernels::PostOps relu{{K::relu}}, relu_gelu{{K::relu}, {K::gelu}}, pool{{K::max_pool_2x2}};
  Linear<T> fc(19, 11);
  fill_uniform<T>(fc.weight(), -0.5, 0.5, 1);
  fill_uniform<T>(fc.bias(), -0.5, 0.5, 2);
  const MaxPool2d<T> pool3(3);
  const Flatten<T> flatten;
  const Tensor<T> rows = random_tensor<T>(Shape{7, 19}, 3), maps = random_tensor<T>(Shape{7, 3, 10, 9}, 4);
  struct Case {
    const Layer<T>* layer;
    const Tensor<T>* x;
  };
  for (const Case& c : {Case{&fc, &rows}, Case{&pool3, &maps}, Case{&flatten, &maps}})
    for (const kernels::PostOps& e : {relu, relu_gelu}) {
      SCOPED_TRACE(c.layer->name() + " + " + e.str());
      EXPECT_TRUE(c.layer->accepts(c.x->shape(), e, Pass::inference));
      EXPECT_FALSE(c.layer->accepts(c.x->shape(), e, Pass::for_backward));
      EXPECT_FALSE(c.layer->accepts(c.x->shape(), pool, Pass::inference));
      Tensor<T> expected = c.layer->forward(*c.x, strategy::Serial{});
      for (const kernels::PostOp& op : e) expected = layer_of<T>(op)->forward(expected, strategy::Serial{});
      ASSERT_EQ(c.layer->fused_output_shape(c.x->shape(), e), expected.shape());
      EXPECT_GT(c.layer->fused_workload(c.x->shape(), e).one_core_ns, c.layer->workload(c.x->shape()).one_core_ns);
      for (const Strategy& s : all_strategies())
        for (std::size_t threads : thread_counts()) {
          Tensor<T> y(expected.shape());
          Workspace<T> ws;
          Executor(threads).run([&] { c.layer->forward_fused(*c.x, y.view(), e, s, ws); });
          EXPECT_TRUE(bitwise<T>(y, expected)) << s.name() << ", " << threads << " threads";
        }
    }
  Workspace<T> ws;
  Tensor<T> y(Shape{7, 11});
  expect_throw_with<ConfigError>([&] { fc.forward_fused(rows, y.view(), pool, {}, ws); },
                                 {"Linear(19->11)", "cannot run the post-ops 2x2 max pool on its output"});
}

}  // namespace
}  // namespace parcnn::test
