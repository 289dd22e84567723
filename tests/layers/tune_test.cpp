// tune(): a plan for every stage of forward (a layer with its post-ops) and the whole model, the same
// bits as the serial run, and the plan as a cache (a second tune of the same shape measures nothing
// new); tune_plan(): the plan those measurements make, saved and loaded.
#include <parcnn/io/plan_file.hpp>
#include <parcnn/layers/conv2d.hpp>
#include <parcnn/layers/flatten.hpp>
#include <parcnn/layers/gelu.hpp>
#include <parcnn/layers/linear.hpp>
#include <parcnn/layers/maxpool2d.hpp>
#include <parcnn/layers/sequential.hpp>
#include <parcnn/layers/tune.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

Sequential<float> tunable_model() { return small_cnn(3, 12, 9, 10); }

const TuneOptions quick{1, 0.03, 1};  // one round: the tests check plans, not speed

TEST(TuneTest, PlansEveryLayerAndTheModel) {
  const Sequential<float> m = tunable_model();
  const Shape in{7, 3, 9, 9};
  const strategy::Tuned plan = with_threads(2, [&] { return tune(m, in, {}, quick); });
  const auto stages = planner::stages(m, in, 2);
  ASSERT_EQ(stages.size(), 3u);  // conv with pool and GELU as its post-ops, flatten, fc
  for (const auto& st : stages) {
    const strategy::Tuned::Entry* e = plan.find(st.work, 2);
    ASSERT_NE(e, nullptr) << m.layer_name(st.first);
    ASSERT_FALSE(e->timings.empty()) << m.layer_name(st.first);
    for (std::size_t k = 1; k < e->timings.size(); ++k)
      EXPECT_LE(e->timings[k - 1].microseconds, e->timings[k].microseconds) << "timings are fastest first";
  }
  const strategy::Tuned::Entry* whole = plan.find(m.workload(in), 2);
  ASSERT_NE(whole, nullptr);
  EXPECT_GE(whole->timings.size(), 2u);  // layer by layer and at least one depth-first block size
  EXPECT_EQ(plan.size(), stages.size() + 1);
  const std::string text = m.plan(in, plan, Pass::inference, ExecutorProfile(2)).describe();
  EXPECT_NE(text.find("measured: "), std::string::npos) << text;
  EXPECT_NE(text.find("whole model, measured: "), std::string::npos) << text;
  // Which candidate wins is timing; that layer-by-layer ones were timed is not.
  EXPECT_NE(text.find(" in every layer "), std::string::npos) << text;
}

TEST(TuneTest, TheTunedPlanGivesTheBitsOfTheSequentialRun) {
  const Sequential<float> m = tunable_model();
  for (std::size_t batch : {1, 7}) {
    const Tensor<float> x = random_tensor<float>(Shape{batch, 3, 9, 9}, 3);
    const Tensor<float> expected = m.forward(x, strategy::Serial{});
    for (std::size_t threads : {1, 2, 3}) {
      Workspace<float> ws;
      const Tensor<float> y = with_threads(threads, [&] {
        const strategy::Tuned plan = tune(m, x.shape(), {}, quick);
        return Tensor<float>(m.forward(x, plan, ws));
      });
      EXPECT_TRUE(bitwise<float>(y, expected)) << "batch " << batch << ", " << threads << " threads";
    }
  }
}

TEST(TuneTest, ThePlanIsTheCache) {
  const Sequential<float> m = tunable_model();
  with_threads(2, [&] {
    const strategy::Tuned first = tune(m, Shape{7, 3, 9, 9}, {}, quick);
    const strategy::Tuned again = tune(m, Shape{7, 3, 9, 9}, first, quick);
    EXPECT_EQ(&again.entries()[0], &first.entries()[0]) << "nothing measured twice: the same plan comes back";
    const strategy::Tuned both = tune(m, Shape{1, 3, 9, 9}, first, quick);
    EXPECT_GT(both.size(), first.size());
    EXPECT_NE(both.find(m.workload(Shape{7, 3, 9, 9}), 2), nullptr);
    EXPECT_NE(both.find(planner::stages(m, Shape{1, 3, 9, 9}, 2)[0].work, 2), nullptr);  // batch 1: unfused
  });
}

TEST(TuneTest, OneWorkerMeasuresOnlyTheModel) {
  const Sequential<float> m = tunable_model();
  const strategy::Tuned plan = with_threads(1, [&] { return tune(m, Shape{4, 3, 9, 9}, {}, quick); });
  const auto stages = planner::stages(m, Shape{4, 3, 9, 9}, 1);
  ASSERT_EQ(plan.size(), stages.size() + 1);  // each stage unmeasured; the model: layer by layer or in blocks
  const strategy::Tuned::Entry* whole = plan.find(m.workload(Shape{4, 3, 9, 9}), 1);
  ASSERT_NE(whole, nullptr);
  EXPECT_FALSE(whole->timings.empty());
  // Each stage runs sequential (Auto's choice on one worker), unless the model ran fastest with one
  // other strategy in every layer (batch cuts even one worker's images into blocks): which one wins
  // is a matter of timing.
  const std::string everywhere = " in every layer";
  const std::string& won = whole->strategy;
  const bool one_strategy = won.size() > everywhere.size() && won.compare(won.size() - everywhere.size(), everywhere.size(), everywhere) == 0 &&
                            won != "auto" + everywhere;
  for (const auto& st : stages) {
    const strategy::Tuned::Entry* e = plan.find(st.work, 1);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->strategy, one_strategy ? won.substr(0, won.size() - everywhere.size()) : "serial") << won;
    EXPECT_TRUE(e->timings.empty());
  }
  const strategy::Tuned one = with_threads(1, [&] { return tune(m, Shape{1, 3, 9, 9}, {}, quick); });
  EXPECT_EQ(one.size(), stages.size());  // one image on one worker: nothing to choose
}

TEST(TuneTest, TunesASingleLayer) {
  Conv2d<float> conv(5, 9, 3, 2, 1);
  fill_uniform<float>(conv.weight(), -0.3, 0.3, 4);
  const Tensor<float> x = random_tensor<float>(Shape{3, 5, 13, 11}, 5);
  const Tensor<float> expected = conv.forward(x, strategy::Serial{});
  with_threads(2, [&] {
    const strategy::Tuned plan = tune(conv, x.shape(), {}, quick);
    ASSERT_EQ(plan.size(), 1u);
    EXPECT_TRUE(bitwise<float>(conv.forward(x, plan), expected));
  });
}

// A tuned plan is a plan: it runs with the bits of the serial run, shows what was measured, and a
// deployment loads it from a file and starts tuned (it measures nothing when it runs).
TEST(TuneTest, TunePlanMakesAPlanThatIsSavedAndLoaded) {
  const Sequential<float> m = tunable_model();
  const Tensor<float> x = random_tensor<float>(Shape{7, 3, 9, 9}, 6);
  const Tensor<float> expected = m.forward(x, strategy::Serial{});
  Executor two(2);
  const Plan plan = tune_plan(m, x.shape(), two, quick);
  EXPECT_NE(plan.describe().find("measured: "), std::string::npos) << plan.describe();
  const std::string path = temp_path("tuned.plan.json");
  io::save_plan(plan, path);
  const Plan loaded = io::load_plan(path, m);
  EXPECT_EQ(io::plan_to_json(loaded), io::plan_to_json(plan));
  Workspace<float> ws;
  EXPECT_TRUE(bitwise<float>(Tensor<float>(m.forward(x, loaded, ws, two)), expected));
}

}  // namespace
}  // namespace parcnn::test
