// The losses: values, gradients against finite differences, and bad targets.
#include <parcnn/train/loss.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(LossTest, NllIsTheMeanNegativeLogProbabilityOfTheTarget) {
  Tensor<double> lp(Shape{2, 3});
  lp(0, 0) = -0.1, lp(0, 1) = -2.0, lp(0, 2) = -3.0;
  lp(1, 0) = -1.5, lp(1, 1) = -0.5, lp(1, 2) = -1.0;
  Tensor<double> grad(lp.shape());
  EXPECT_DOUBLE_EQ(nll_loss<double>(lp, {0, 2}, grad), (0.1 + 1.0) / 2);
  EXPECT_EQ(grad(0, 0), -0.5);
  EXPECT_EQ(grad(1, 2), -0.5);
  EXPECT_EQ(grad(0, 1), 0.0);
}

TEST(LossTest, CrossEntropyGradientMatchesFiniteDifferences) {
  Tensor<double> logits = random_tensor<double>(Shape{3, 5}, 1, -3, 3);
  const std::vector<std::size_t> targets{4, 0, 2};
  Tensor<double> grad(logits.shape());
  const double loss = cross_entropy_loss<double>(logits, targets, grad);
  EXPECT_GT(loss, 0.0);
  for (std::size_t i = 0; i < logits.size(); ++i) {
    const double saved = logits.data()[i], h = 1e-5;
    logits.data()[i] = saved + h;
    const double up = cross_entropy_loss<double>(logits, targets);
    logits.data()[i] = saved - h;
    const double down = cross_entropy_loss<double>(logits, targets);
    logits.data()[i] = saved;
    EXPECT_NEAR(grad.data()[i], (up - down) / (2 * h), 1e-8);
  }
}

TEST(LossTest, RejectsTargetsThatAreNotClasses) {
  const Tensor<float> lp(Shape{2, 3});
  expect_throw_with([&] { nll_loss<float>(lp, {0, 3}); }, {"nll_loss", "target 3 of image 1", "[2, 3]"});
  expect_throw_with([&] { nll_loss<float>(lp, {0}); }, {"1 targets", "[2, 3]"});
  expect_throw_with([&] { cross_entropy_loss<float>(Tensor<float>(Shape{6}), {0}); }, {"[N, C]", "got [6]"});
}

}  // namespace
}  // namespace parcnn::test
