// StepLR and CosineAnnealingLR against torch.optim.lr_scheduler's closed forms, applied to every group
// of an optimizer from its own base rate.
#include <parcnn/train/lr_schedule.hpp>
#include <parcnn/train/sgd.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(LrScheduleTest, StepAndCosineFollowTorchsClosedForms) {
  const StepLR step{3, 0.5};
  for (std::size_t e : {0, 1, 2}) EXPECT_DOUBLE_EQ(step.lr(0.1, e), 0.1);
  for (std::size_t e : {3, 4, 5}) EXPECT_DOUBLE_EQ(step.lr(0.1, e), 0.05);
  EXPECT_DOUBLE_EQ(step.lr(0.1, 9), 0.0125);
  const CosineAnnealingLR cosine{10, 0.001};
  EXPECT_DOUBLE_EQ(cosine.lr(0.1, 0), 0.1);
  EXPECT_DOUBLE_EQ(cosine.lr(0.1, 5), 0.001 + 0.099 / 2);
  EXPECT_NEAR(cosine.lr(0.1, 2), 0.001 + 0.099 * (1 + std::cos(M_PI / 5)) / 2, 1e-15);
  EXPECT_DOUBLE_EQ(cosine.lr(0.1, 10), 0.001);
  EXPECT_DOUBLE_EQ(cosine.lr(0.1, 12), 0.001);
  expect_throw_with<ConfigError>([] { StepLR{0}.lr(1, 1); }, {"step_size"});
  expect_throw_with<ConfigError>([] { CosineAnnealingLR{0}.lr(1, 1); }, {"t_max"});
}

TEST(LrScheduleTest, SetsEveryGroupFromItsOwnBase) {
  Sequential<float> m;
  m.add("a", Linear<float>(3, 2)).add("b", Linear<float>(2, 2));
  Parameters<float> params(m);
  SGD<float> sgd(params.matching("a"), SgdOptions{0.1});
  sgd.add_group(params.matching("b"), SgdOptions{0.01});
  LrScheduler scheduler(sgd, StepLR{2, 0.1});
  EXPECT_EQ(scheduler.epoch(), 0u);
  scheduler.step();
  EXPECT_DOUBLE_EQ(scheduler.lr(0), 0.1);
  scheduler.step();
  EXPECT_DOUBLE_EQ(sgd.group(0).options.lr, 0.01);
  EXPECT_DOUBLE_EQ(sgd.group(1).options.lr, 0.001);
  scheduler.set_epoch(0);
  EXPECT_DOUBLE_EQ(sgd.group(1).options.lr, 0.01);
  LrScheduler resumed(sgd, StepLR{2, 0.1}, 4);  // bases are the rates now: epoch 0's
  EXPECT_DOUBLE_EQ(resumed.lr(0), 0.001);
}

}  // namespace
}  // namespace parcnn::test
