// strategy::Tuned: measured entries win, everything else falls back to Auto, entries replace by key.
#include <parcnn/parallel/strategy.hpp>
#include <parcnn/parallel/tuned.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

Workload conv_like(std::size_t n) { return Workload{IndexSpace{n, 64, 11, 11}, 2e6 * double(n), 1e5}; }

TEST(TunedTest, UsesTheMeasuredCutForItsWorkloadAndWorkers) {
  const Cut measured{1, 16, 11, 11};
  const strategy::Tuned plan =
      strategy::Tuned{}.with({conv_like(1), 2, "channel", measured, {{"channel", 40.0}, {"spatial", 45.5}}});
  const Cut c = plan.cut(conv_like(1), 2);
  EXPECT_EQ(c.c, 16u);
  EXPECT_EQ(c.h, 11u);
  const strategy::AutoChoice why = Strategy(plan).explain(conv_like(1), 2);
  EXPECT_EQ(why.strategy, "channel");
  EXPECT_EQ(why.reason, "measured: channel 40.0 us, spatial 45.5 us");
}

TEST(TunedTest, FallsBackToAutoElsewhere) {
  const strategy::Tuned plan = strategy::Tuned{}.with({conv_like(1), 2, "channel", Cut{1, 16, 11, 11}, {}});
  const strategy::Auto a;
  for (const auto& [work, workers] : {std::pair{conv_like(1), std::size_t{3}}, std::pair{conv_like(64), std::size_t{2}}}) {
    const Cut mine = plan.cut(work, workers), its = a.cut(work, workers);
    EXPECT_TRUE(mine.n == its.n && mine.c == its.c && mine.h == its.h && mine.w == its.w);
    const strategy::AutoChoice why = plan.choose(work, workers);
    EXPECT_EQ(why.reason.rfind("not tuned, auto: ", 0), 0u) << why.reason;
  }
  // A different FLOP count is a different workload, even on the same index space.
  Workload other = conv_like(1);
  other.flops *= 2;
  EXPECT_EQ(plan.find(other, 2), nullptr);
}

TEST(TunedTest, WithReplacesAnEntryOfTheSameKeyAndLeavesTheOriginal) {
  const strategy::Tuned one = strategy::Tuned{}.with({conv_like(1), 2, "channel", Cut{1, 16, 11, 11}, {}});
  const strategy::Tuned two = one.with({conv_like(1), 2, "spatial", Cut{1, 64, 6, 11}, {}});
  const strategy::Tuned three = two.with({conv_like(1), 1, "serial", Cut{1, 64, 11, 11}, {}});
  EXPECT_EQ(one.size(), 1u);
  EXPECT_EQ(two.size(), 1u);
  EXPECT_EQ(three.size(), 2u);
  EXPECT_EQ(one.find(conv_like(1), 2)->strategy, "channel");
  EXPECT_EQ(two.find(conv_like(1), 2)->strategy, "spatial");
  EXPECT_EQ(three.find(conv_like(1), 1)->strategy, "serial");
  EXPECT_EQ(Strategy(three).name(), "tuned");
}

TEST(TunedTest, HasNoNameToParse) {
  expect_throw_with<ConfigError>([] { Strategy::parse("tuned"); }, {"'tuned'", "tune(model, shape)"});
}

}  // namespace
}  // namespace parcnn::test
