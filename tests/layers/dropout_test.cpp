// Dropout: the identity in forward and in evaluation; in training, values dropped with probability p,
// the others scaled exactly, the same mask on every thread count and strategy, a new one at every pass,
// and the backward pass through the same mask; a model with it trains to the same bits on 1, 2 and 3
// threads.
#include <parcnn/layers/dropout.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class DropoutTest : public ::testing::Test {};
TYPED_TEST_SUITE(DropoutTest, Scalars);

TYPED_TEST(DropoutTest, IsTheIdentityInForwardAndInEvaluation) {
  using T = TypeParam;
  Dropout<T> drop(0.3, 5);
  EXPECT_EQ(drop.name(), "Dropout(p=0.3)");
  const Tensor<T> x = random_tensor<T>(Shape{7, 5, 3, 4}, 1);
  EXPECT_TRUE(bitwise<T>(drop.forward(x), x));
  expect_strategies_match_sequential<T>(drop, x);
  drop.eval();
  EXPECT_FALSE(drop.couples_images());
  Tensor<T> y(x.shape());
  Workspace<T> ws;
  drop.forward_for_backward(x, y.view(), strategy::Serial{}, ws);
  EXPECT_TRUE(bitwise<T>(y, x));
  EXPECT_EQ(drop.passes(), 0u);
}

TYPED_TEST(DropoutTest, TrainingDropsAboutPAndScalesTheRestExactly) {
  using T = TypeParam;
  const Tensor<T> x = random_tensor<T>(Shape{64, 100, 3, 5}, 2, 0.5, 1.5);  // no zeros of its own
  Dropout<T> drop(0.25, 7);
  EXPECT_TRUE(drop.couples_images());
  Tensor<T> first;
  for (const Strategy& s : all_strategies())
    for (std::size_t threads : thread_counts()) {
      drop.reseed(7);
      Tensor<T> y(x.shape());
      Workspace<T> ws;
      Executor(threads).run([&] { drop.forward_for_backward(x, y.view(), s, ws); });
      if (first.empty()) first = y;
      EXPECT_TRUE(bitwise<T>(y, first)) << s.name() << ", " << threads << " threads";
    }
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (first.data()[i] == T(0)) ++dropped;
    else EXPECT_EQ(first.data()[i], x.data()[i] * T(1 / 0.75));
  }
  EXPECT_NEAR(double(dropped) / double(x.size()), 0.25, 0.005);  // 96,000 draws: σ ≈ 0.0014
  Tensor<T> second(x.shape());
  Workspace<T> ws;
  drop.forward_for_backward(x, second.view(), strategy::Serial{}, ws);
  EXPECT_FALSE(bitwise<T>(second, first)) << "each pass draws a new mask";
  // Backward: the gradient through the mask of the last pass in this workspace.
  const Tensor<T> g = random_tensor<T>(x.shape(), 3);
  Tensor<T> dx(x.shape());
  drop.backward(x, second, g, dx, {}, ws);
  for (std::size_t i = 0; i < x.size(); ++i)
    EXPECT_EQ(dx.data()[i], second.data()[i] == T(0) ? T(0) : g.data()[i] * T(1 / 0.75));
}

TEST(DropoutTest, GradientsMatchFiniteDifferencesInEvaluation) {
  Dropout<double> drop(0.5, 1);
  drop.eval();
  expect_gradients_match_finite_differences(drop, random_tensor<double>(Shape{3, 7}, 4));
}

TEST(DropoutTest, AModelWithItTrainsToTheSameBitsOnEveryThreadCount) {
  auto train = [](std::size_t threads) {
    return Executor(threads).run([&] {
      manual_seed(8);
      Sequential<float> m;
      m.add("flat", Flatten<float>()).add("fc1", Linear<float>(12, 16)).add("relu", ReLU<float>());
      m.add("drop", Dropout<float>(0.5)).add("fc2", Linear<float>(16, 3)).add("log_softmax", LogSoftmax<float>());
      Parameters<float> params(m);
      SGD<float> sgd(params.all(), SgdOptions{0.1});
      Trainer<float> trainer(m, params, sgd, TrainerOptions{strategy::Auto{}, 2});
      for (std::size_t s = 0; s < 3; ++s) {
        std::vector<std::size_t> labels{0, 1, 2, 0, 1, 2, 0};
        trainer.step(random_tensor<float>(Shape{7, 3, 2, 2}, s), labels);
      }
      std::vector<Tensor<float>> w;
      for (auto& p : params) w.emplace_back(p.value->view());
      return w;
    });
  };
  const std::vector<Tensor<float>> one = train(1);
  for (std::size_t threads : thread_counts()) {
    const std::vector<Tensor<float>> other = train(threads);
    for (std::size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(bitwise<float>(other[i], one[i])) << threads << " threads";
  }
}

TEST(DropoutTest, RejectsProbabilitiesOutsideZeroToOne) {
  expect_throw_with<ConfigError>([] { Dropout<float>(1.0); }, {"Dropout(p=1)", "[0, 1)"});
  expect_throw_with<ConfigError>([] { Dropout<float>(-0.1); }, {"[0, 1)"});
  expect_throw_with([] { Dropout<float>().forward(Tensor<float>(Shape{2, 0})); }, {"Dropout(p=0.5)", "got [2, 0]"});
}

}  // namespace
}  // namespace parcnn::test
