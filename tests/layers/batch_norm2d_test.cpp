// BatchNorm2d against its formula in long double, in evaluation (running statistics) and in training
// (the batch's, and the running ones updated as PyTorch does); every strategy; backward in both modes
// against finite differences; and a model with it trains to the same bits on 1, 2 and 3 threads.
#include <parcnn/layers/batch_norm2d.hpp>
#include <parcnn/layers/conv2d.hpp>
#include <parcnn/layers/relu.hpp>
#include <parcnn/layers/sequential.hpp>
#include <parcnn/plan/make_plan.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class BatchNorm2dTest : public ::testing::Test {};
TYPED_TEST_SUITE(BatchNorm2dTest, Scalars);

template <class T>
BatchNorm2d<T> random_batch_norm(std::size_t channels, std::uint64_t seed) {
  BatchNorm2d<T> bn(channels);
  fill_uniform<T>(bn.weight(), 0.5, 1.5, seed);
  fill_uniform<T>(bn.bias(), -0.5, 0.5, seed + 1);
  fill_uniform<T>(bn.running_mean(), -0.3, 0.3, seed + 2);
  fill_uniform<T>(bn.running_var(), 0.5, 2.0, seed + 3);
  return bn;
}

// y = (x − mean)·weight / √(var + eps) + bias per channel, in long double.
template <class T>
Tensor<T> reference(const Tensor<T>& x, const BatchNorm2d<T>& bn, const std::vector<long double>& mean,
                    const std::vector<long double>& var) {
  Tensor<T> y(x.shape());
  const std::size_t C = x.dim(1), HW = x.dim(2) * x.dim(3);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t c = i / HW % C;
    y.data()[i] = T((x.data()[i] - mean[c]) / std::sqrt(var[c] + bn.eps()) * bn.weight().data()[c] + bn.bias().data()[c]);
  }
  return y;
}

TYPED_TEST(BatchNorm2dTest, EvaluationUsesTheRunningStatisticsUnderEveryStrategy) {
  using T = TypeParam;
  for (const Shape& shape : {Shape{1, 3, 7, 9}, Shape{7, 5, 6, 5}, Shape{2, 17, 1, 1}}) {
    const BatchNorm2d<T> bn = random_batch_norm<T>(shape[1], 3);
    const Tensor<T> x = random_tensor<T>(shape, 4, -2, 2);
    std::vector<long double> mean, var;
    for (std::size_t c = 0; c < shape[1]; ++c) mean.push_back(bn.running_mean().data()[c]), var.push_back(bn.running_var().data()[c]);
    EXPECT_TRUE(near<T>(bn.forward(x), reference(x, bn, mean, var), tolerance<T>()));
    expect_strategies_match_sequential<T>(bn, x);
  }
}

TYPED_TEST(BatchNorm2dTest, TrainingNormalisesByTheBatchAndUpdatesTheRunningStatistics) {
  using T = TypeParam;
  const Shape shape{7, 5, 6, 3};
  const BatchNorm2d<T> start = random_batch_norm<T>(5, 8);
  const Tensor<T> x = random_tensor<T>(shape, 4, -1, 3);
  const std::size_t M = 7 * 18;
  std::vector<long double> mean(5), var(5);
  for (std::size_t c = 0; c < 5; ++c) {
    for (std::size_t n = 0; n < 7; ++n)
      for (std::size_t i = 0; i < 18; ++i) mean[c] += x.data()[(n * 5 + c) * 18 + i];
    mean[c] /= M;
    for (std::size_t n = 0; n < 7; ++n)
      for (std::size_t i = 0; i < 18; ++i) var[c] += std::pow(x.data()[(n * 5 + c) * 18 + i] - mean[c], 2);
    var[c] /= M;
  }
  const Tensor<T> expected = reference(x, start, mean, var);
  Tensor<T> first;
  for (const Strategy& s : all_strategies())
    for (std::size_t threads : thread_counts()) {
      SCOPED_TRACE(s.name() + ", " + std::to_string(threads) + " threads");
      BatchNorm2d<T> bn = start;
      EXPECT_TRUE(bn.couples_images());
      Tensor<T> y(shape);
      Workspace<T> ws;
      Executor(threads).run([&] { bn.forward_for_backward(x, y.view(), s, ws); });
      EXPECT_TRUE(near<T>(y, expected, tolerance<T>()));
      if (first.empty()) first = y;
      EXPECT_TRUE(bitwise<T>(y, first));
      for (std::size_t c = 0; c < 5; ++c) {
        EXPECT_NEAR(double(bn.running_mean().data()[c]), 0.9 * start.running_mean().data()[c] + 0.1 * double(mean[c]), 1e-6);
        EXPECT_NEAR(double(bn.running_var().data()[c]),
                    0.9 * start.running_var().data()[c] + 0.1 * double(var[c]) * M / (M - 1), 1e-6);
      }
      EXPECT_EQ(bn.num_batches_tracked(), 1u);
    }
  BatchNorm2d<T> evaluating = start;
  evaluating.eval();
  EXPECT_FALSE(evaluating.couples_images());
  Tensor<T> y(shape);
  Workspace<T> ws;
  evaluating.forward_for_backward(x, y.view(), strategy::Serial{}, ws);
  EXPECT_TRUE(bitwise<T>(y, evaluating.forward(x)));
  EXPECT_EQ(evaluating.num_batches_tracked(), 0u);
}

TEST(BatchNorm2dBackwardTest, GradientsMatchFiniteDifferencesInBothModes) {
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "evaluation");
    BatchNorm2d<double> bn = random_batch_norm<double>(3, 5);
    bn.train(training);
    expect_gradients_match_finite_differences(bn, random_tensor<double>(Shape{4, 3, 5, 3}, 6, -1, 2));
  }
}

// A ReLU after the layer runs in its pass for backward (the layer's own output not kept; backward reads
// the ReLU's mask from the ReLU's output): the gradients and the running statistics have the bits of the
// layers apart, in both modes, on 1, 2 and 3 threads.
TEST(BatchNorm2dFusionTest, ReluAfterItHasTheBitsOfTheLayersApart) {
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "evaluation");
    Sequential<float> m;
    m.add("conv", Conv2d<float>(3, 5, 3, 1, 1, false)).add("bn", random_batch_norm<float>(5, 7)).add("relu", ReLU<float>());
    m.add("conv2", Conv2d<float>(5, 4, 3, 1, 1)).add("bn2", random_batch_norm<float>(4, 9)).add("relu2", ReLU<float>());
    fill_uniform<float>(m.get<Conv2d<float>>("conv").weight(), -0.5, 0.5, 11);
    fill_uniform<float>(m.get<Conv2d<float>>("conv2").weight(), -0.5, 0.5, 12);
    fill_uniform<float>(m.get<Conv2d<float>>("conv2").bias(), -0.5, 0.5, 13);
    m.train(training);
    Sequential<float> apart = m;
    apart.fuse_post_ops(false);
    const Tensor<float> x = random_tensor<float>(Shape{7, 3, 6, 5}, 14, -1, 1);
    kernels::PostOps e;
    EXPECT_EQ(planner::backward_stage(m, 1, Shape{7, 5, 6, 5}, e), 3u);  // bn + relu
    EXPECT_EQ(e, kernels::PostOps{{kernels::PostOp::Kind::relu}});
    EXPECT_EQ(planner::backward_stage(m, 4, Shape{7, 4, 6, 5}, e), 6u);  // bn2 + relu2, the model's last layers
    EXPECT_EQ(planner::backward_stage(apart, 1, Shape{7, 5, 6, 5}, e), 2u);
    const Tensor<float> grad = random_tensor<float>(m.output_shape(x.shape()), 15);
    const std::vector<Tensor<float>> expected = run_backward<float>(apart, x, grad, 3);
    for (std::size_t threads : thread_counts()) {
      Sequential<float> fused = m;
      const auto got = Executor(threads).run([&] { return run_backward<float>(fused, x, grad, 3); });
      for (std::size_t i = 0; i < expected.size(); ++i)
        EXPECT_TRUE(bitwise<float>(got[i], expected[i])) << "gradient " << i << ", " << threads << " threads";
      for (const char* bn : {"bn", "bn2"}) {
        EXPECT_TRUE(bitwise<float>(fused.get<BatchNorm2d<float>>(bn).running_mean(),
                                   apart.get<BatchNorm2d<float>>(bn).running_mean()));
        EXPECT_TRUE(bitwise<float>(fused.get<BatchNorm2d<float>>(bn).running_var(),
                                   apart.get<BatchNorm2d<float>>(bn).running_var()));
      }
    }
  }
}

TEST(BatchNorm2dTest, DefaultsAndNamesAreTorchs) {
  BatchNorm2d<float> bn(4);
  EXPECT_EQ(bn.name(), "BatchNorm2d(4)");
  EXPECT_EQ(bn.eps(), 1e-5);
  EXPECT_EQ(bn.momentum(), 0.1);
  std::vector<std::string> names;
  for (const auto& p : bn.parameters()) names.push_back(p.name);
  for (const auto& p : bn.buffers()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}));
  for (std::size_t c = 0; c < 4; ++c) {
    EXPECT_EQ(bn.weight().data()[c], 1.0f);
    EXPECT_EQ(bn.bias().data()[c], 0.0f);
    EXPECT_EQ(bn.running_mean().data()[c], 0.0f);
    EXPECT_EQ(bn.running_var().data()[c], 1.0f);
  }
}

TEST(BatchNorm2dTest, RejectsBadConfigurationsAndInputs) {
  expect_throw_with<ConfigError>([] { BatchNorm2d<float>(0); }, {"BatchNorm2d(0)", "at least 1"});
  expect_throw_with<ConfigError>([] { BatchNorm2d<float>(3, 0); }, {"eps must be positive"});
  expect_throw_with<ConfigError>([] { BatchNorm2d<float>(3, 1e-5, 1.5); }, {"momentum must lie in [0, 1]"});
  expect_throw_with([] { BatchNorm2d<float>(3).forward(Tensor<float>(Shape{2, 4, 3, 3})); },
                    {"BatchNorm2d(3)", "[N, 3, H, W]", "got [2, 4, 3, 3]"});
  BatchNorm2d<float> bn(3);
  Workspace<float> ws;
  Tensor<float> one(Shape{1, 3, 1, 1}), y(Shape{1, 3, 1, 1});
  expect_throw_with([&] { bn.forward_for_backward(one, y.view(), {}, ws); }, {"more than one value per channel"});
  Tensor<float> x(Shape{2, 3, 2, 2}), g(Shape{2, 3, 2, 2}), dx(Shape{2, 3, 2, 2});
  GradientChunks<float> chunks;
  chunks.plan(bn.parameter_shapes(), 2, 2);
  expect_throw_with<ConfigError>([&] { bn.backward(x, x, g, dx, GradientSlice<float>{&chunks, 0}, ws); },
                                 {"batch statistics of forward_for_backward"});
}

}  // namespace
}  // namespace parcnn::test
