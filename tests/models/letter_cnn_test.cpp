// The letter CNN: its structure, the whole network against the reference kernels, every strategy and
// thread count against Sequential, and concurrent forward calls on one model.
#include <parcnn/models/letter_cnn.hpp>

#include <thread>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class LetterCnnTest : public ::testing::Test {};
TYPED_TEST_SUITE(LetterCnnTest, Scalars);

// The network computed with the reference kernels only, layer by layer.
template <class T>
Tensor<T> reference_forward(Sequential<T>& m, const Tensor<T>& x) {
  Tensor<T> a(x.view());
  for (int i = 1; i <= 3; ++i) {
    auto& conv = m.template get<Conv2d<T>>("conv" + std::to_string(i));
    auto g = conv.geometry(a.shape());
    Tensor<T> y(Shape{a.dim(0), g.out_c, g.out_h, g.out_w});
    kernels::conv2d_forward_reference(a.data(), conv.weight().data(), conv.bias().data(), g, a.dim(0), y.data());
    auto pg = m.template get<MaxPool2d<T>>("pool" + std::to_string(i)).geometry(y.shape());
    Tensor<T> p(Shape{a.dim(0), pg.out_c, pg.out_h, pg.out_w});
    kernels::maxpool2d_forward_reference(y.data(), pg, a.dim(0), p.data());
    for (auto& v : p) v = kernels::gelu_reference(GeluApproximation::tanh, v);
    a = std::move(p);
  }
  Tensor<T> h(a.flatten());
  for (int i = 1; i <= 3; ++i) {
    auto& fc = m.template get<Linear<T>>("fc" + std::to_string(i));
    Tensor<T> y(Shape{h.dim(0), fc.out_features()});
    kernels::linear_forward_reference(h.data(), fc.weight().data(), fc.bias().data(), h.dim(0), fc.in_features(),
                                      fc.out_features(), y.data());
    if (i < 3)
      for (auto& v : y) v = kernels::gelu_reference(GeluApproximation::tanh, v);
    h = std::move(y);
  }
  Tensor<T> out(h.shape());
  kernels::log_softmax_reference(h.data(), h.dim(0), h.dim(1), out.data());
  return out;
}

TYPED_TEST(LetterCnnTest, HasTheGuidesShapesAndParameterNames) {
  using T = TypeParam;
  Sequential<T> m = models::letter_cnn<T>();
  const std::vector<Shape> s = m.shapes(Shape{64, 1, 28, 28});
  EXPECT_EQ(s[0], (Shape{64, 32, 26, 26}));
  EXPECT_EQ(s[1], (Shape{64, 32, 13, 13}));
  EXPECT_EQ(s[3], (Shape{64, 64, 11, 11}));
  EXPECT_EQ(s[4], (Shape{64, 64, 5, 5}));
  EXPECT_EQ(s[6], (Shape{64, 128, 3, 3}));
  EXPECT_EQ(s[7], (Shape{64, 128, 1, 1}));
  EXPECT_EQ(s[9], (Shape{64, 128}));
  EXPECT_EQ(s.back(), (Shape{64, 26}));
  std::vector<std::string> names;
  std::size_t count = 0;
  for (const auto& p : m.parameters()) names.push_back(p.name), count += p.tensor->size();
  EXPECT_EQ(names, (std::vector<std::string>{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight",
                                             "conv3.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
                                             "fc3.weight", "fc3.bias"}));
  EXPECT_EQ(count, 320u + 18496u + 73856u + 66048u + 131328u + 6682u);
  // 6,583,552 FLOP per image in the convolutions and linear layers (multiply-adds count 2).
  double gemm_flops = 0;
  Shape x{1, 1, 28, 28};
  for (std::size_t i = 0; i < m.size(); ++i) {
    const std::string& name = m.layer_name(i);
    if (name.rfind("conv", 0) == 0 || name.rfind("fc", 0) == 0) gemm_flops += m[i].workload(x).flops;
    x = m[i].output_shape(x);
  }
  EXPECT_EQ(gemm_flops, 6583552.0);
  EXPECT_EQ(models::letter_cnn<T>(10).output_shape(Shape{2, 1, 28, 28}), (Shape{2, 10}));
}

TYPED_TEST(LetterCnnTest, InitialisationIsSeededAndScaled) {
  using T = TypeParam;
  Sequential<T> a = models::letter_cnn<T>(26, 7), b = models::letter_cnn<T>(26, 7), c = models::letter_cnn<T>(26, 8);
  const Tensor<T>& wa = a.template get<Conv2d<T>>("conv2").weight();
  EXPECT_TRUE(bitwise<T>(wa, b.template get<Conv2d<T>>("conv2").weight()));
  EXPECT_FALSE(bitwise<T>(wa, c.template get<Conv2d<T>>("conv2").weight()));
  double sq = 0;
  for (T v : wa) sq += double(v) * double(v);
  EXPECT_NEAR(std::sqrt(sq / double(wa.size())), std::sqrt(2.0 / 288.0), 0.01);  // He: std √(2 / fan_in)
  const Tensor<T>& w3 = a.template get<Linear<T>>("fc3").weight();
  const double bound = std::sqrt(6.0 / (256 + 26));  // Xavier-uniform
  for (T v : w3) EXPECT_LE(std::abs(double(v)), bound);

  // PyTorch's default: weights and biases uniform in ±1/√fan_in, std 1/√(3·fan_in).
  Sequential<T> t = models::letter_cnn<T>(26, 7, GeluApproximation::tanh, models::LetterCnnInit::torch_default);
  const Tensor<T>& tw = t.template get<Conv2d<T>>("conv2").weight();
  double tsq = 0;
  for (T v : tw) {
    EXPECT_LE(std::abs(double(v)), 1.0 / std::sqrt(288.0));
    tsq += double(v) * double(v);
  }
  EXPECT_NEAR(std::sqrt(tsq / double(tw.size())), 1.0 / std::sqrt(3.0 * 288.0), 0.002);
  const Tensor<T>& tb = t.template get<Linear<T>>("fc1").bias();
  EXPECT_NE(tb(0), T(0));
  for (T v : tb) EXPECT_LE(std::abs(double(v)), 1.0 / std::sqrt(128.0));
}

TYPED_TEST(LetterCnnTest, MatchesTheReferenceKernels) {
  using T = TypeParam;
  Sequential<T> m = models::letter_cnn<T>(26, 3);
  const Tensor<T> x = random_tensor<T>(Shape{7, 1, 28, 28}, 4, 0, 1);
  EXPECT_TRUE(near<T>(m.forward(x, strategy::Sequential{}), reference_forward(m, x), 10 * tolerance<T>()));
}

TYPED_TEST(LetterCnnTest, EveryStrategyAndThreadCountMatchesSequential) {
  using T = TypeParam;
  const Sequential<T> m = models::letter_cnn<T>(26, 5);
  for (std::size_t batch : {1, 7, 64}) {
    const Tensor<T> x = random_tensor<T>(Shape{batch, 1, 28, 28}, batch, 0, 1);
    expect_strategies_match_sequential<T>(m, x);
  }
}

TYPED_TEST(LetterCnnTest, ConcurrentForwardCallsOnOneModel) {
  using T = TypeParam;
  const Sequential<T> m = models::letter_cnn<T>(26, 6);
  const Tensor<T> x = random_tensor<T>(Shape{16, 1, 28, 28}, 6, 0, 1);
  const Tensor<T> expected = m.forward(x, strategy::Sequential{});
  const std::vector<Strategy> strategies = all_strategies();
  std::vector<Tensor<T>> results(8);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] {
      Workspace<T> ws;  // each caller its own workspace; the model is shared
      for (int repeat = 0; repeat < 3; ++repeat)
        results[t] = Tensor<T>(m.forward(x, strategies[t % strategies.size()], ws));
    });
  for (auto& th : threads) th.join();
  for (std::size_t t = 0; t < results.size(); ++t)
    EXPECT_TRUE(near<T>(results[t], expected, tolerance<T>())) << strategies[t % strategies.size()].name();
}

TEST(LetterCnnBackwardTest, WholeNetworkGradientsMatchFiniteDifferences) {
  Sequential<double> m = models::letter_cnn<double>(10, 4, GeluApproximation::tanh);
  expect_gradients_match_finite_differences(m, random_tensor<double>(Shape{3, 1, 28, 28}, 5, 0, 1), 1e-6, 12);
}

}  // namespace
}  // namespace parcnn::test
