// Plan: what describe() prints for a hand-made plan, and the executor profile's notion of fitting.
#include <parcnn/plan/plan.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(PlanTest, DescribeNamesEveryStageAndItsPostOps) {
  Plan plan;
  plan.input = Shape{8, 3, 10, 10};
  plan.profile = ExecutorProfile(2, true, 120);
  plan.team = 2;
  plan.strategy = "auto";
  plan.layer_names = {"conv", "pool"};
  plan.layer_kinds = {"Conv2d(3->4, k=3)", "MaxPool2d(k=2)"};
  plan.layer_outputs = {Shape{8, 4, 8, 8}, Shape{8, 4, 4, 4}};
  PlanStage st;
  st.next = 2;
  st.post_ops = {{kernels::PostOp::Kind::max_pool_2x2}};
  st.work.space = IndexSpace{8, 4, 4, 4};
  st.strategy = "batch";
  st.cut = Cut{4, 4, 4, 4};
  st.blocks = 2;
  st.algorithm = {"im2col + GEMM", 100, 0};
  st.reason = "because";
  plan.stages.push_back(st);
  const std::string text = plan.describe();
  EXPECT_NE(text.find("2 worker(s) kept in a team, hand-off 120 ns, strategy auto, " +
                      std::string(kernels::isa_name(kernels::active_isa())) + " kernels"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("conv"), std::string::npos) << text;
  EXPECT_NE(text.find("2 blocks  because"), std::string::npos) << text;
  EXPECT_NE(text.find("kernel: im2col + GEMM; scratch 100 values per worker"), std::string::npos) << text;
  EXPECT_NE(text.find("-> [8, 4, 4, 4]       a post-op of conv"), std::string::npos) << text;
  EXPECT_EQ(text.find("depth-first"), std::string::npos) << text;
}

TEST(PlanTest, ProfilesFitWithinHalfAnOctaveOfHandOff) {
  const ExecutorProfile a(2, true, 110);
  EXPECT_TRUE(a.fits(ExecutorProfile(2, true, 120)));
  EXPECT_FALSE(a.fits(ExecutorProfile(2, true, 500)));
  EXPECT_FALSE(a.fits(ExecutorProfile(3, true, 110)));
  EXPECT_FALSE(a.fits(ExecutorProfile(2, false, 110)));
  EXPECT_FALSE(ExecutorProfile(1, true).team);  // one worker keeps no team
}

}  // namespace
}  // namespace parcnn::test
