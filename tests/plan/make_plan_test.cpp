// make_plan: plans built once and executed give the bits of the sequential run; they are checked
// against the model, input and scope they run in; the planner's decisions are pure functions of the
// model, input, strategy and executor profile; forward(x, strategy, ws) keeps its plan in the workspace.
#include <parcnn/layers/sequential.hpp>
#include <parcnn/models/letter_cnn.hpp>
#include <parcnn/plan/make_plan.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

Sequential<float> small_model() { return small_cnn(2, 4, 7, 5); }

// Auto that forks for any amount of work, so the small model runs depth-first or cut.
strategy::Auto eager_auto() {
  strategy::Auto a;
  a.fork_join_ns = 0;
  a.team_fork_join_ns = 0;
  a.in_image_ns = 0;
  return a;
}

std::vector<Strategy> plan_strategies() {
  std::vector<Strategy> s = all_strategies();
  s.push_back(eager_auto());
  return s;
}

TEST(MakePlanTest, APlanBuiltOnceGivesTheBitsOfTheSequentialRun) {
  const Sequential<float> m = small_model();
  for (std::size_t batch : {1, 7}) {
    const Tensor<float> x = random_tensor<float>(Shape{batch, 2, 7, 7}, 40 + batch);
    const Tensor<float> expected = m.forward(x, strategy::Serial{});
    for (std::size_t threads : thread_counts())
      for (const Strategy& s : plan_strategies())
        Executor(threads).run([&] {
          const Plan plan = m.plan(x.shape(), s);
          Workspace<float> ws;
          for (int call = 0; call < 2; ++call)  // the second call reuses the workspace
            EXPECT_TRUE(bitwise<float>(Tensor<float>(m.forward(x, plan, ws)), expected))
                << s.name() << ", batch " << batch << ", " << threads << " threads\n" << plan.describe();
        });
  }
}

TEST(MakePlanTest, AForBackwardPlanKeepsWhatBackwardReads) {
  const Sequential<float> m = small_model();
  const Tensor<float> x = random_tensor<float>(Shape{7, 2, 7, 7}, 50);
  const Tensor<float> grad = random_tensor<float>(m.output_shape(x.shape()), 51);
  const std::vector<Tensor<float>> expected = run_backward<float>(m, x, grad, 3);
  for (std::size_t threads : thread_counts())
    Executor(threads).run([&] {
      const Plan plan = m.plan(x.shape(), eager_auto(), Pass::for_backward);
      ASSERT_FALSE(plan.backward.empty());
      EXPECT_EQ(plan.backward.front().next, 3u) << plan.describe();  // conv through its pool and GELU
      Workspace<float> ws;
      const Tensor<float> out(m.forward_for_backward(x, plan, ws));
      GradientChunks<float> chunks;
      chunks.plan(m.parameter_shapes(), x.dim(0), 3);
      std::vector<Tensor<float>> result;
      result.emplace_back(x.shape());
      m.backward(x, out, grad, result[0].view(), GradientSlice<float>{&chunks, 0}, ws);
      std::vector<TensorView<float>> views;
      for (const Shape& s : m.parameter_shapes()) result.emplace_back(s);
      for (std::size_t i = 1; i < result.size(); ++i) views.push_back(result[i].view());
      reduce_chunks(chunks, views);
      for (std::size_t i = 0; i < result.size(); ++i)
        EXPECT_TRUE(bitwise<float>(result[i], expected[i])) << "gradient " << i << ", " << threads << " threads";
    });
}

TEST(MakePlanTest, APlanRunsOnlyWhereItWasMadeFor) {
  const Sequential<float> m = small_model();
  const Tensor<float> x = random_tensor<float>(Shape{3, 2, 7, 7}, 60);
  const Plan plan = m.plan(x.shape(), strategy::Auto{}, Pass::inference, ExecutorProfile(current_workers()));
  Workspace<float> ws;
  const Tensor<float> other = random_tensor<float>(Shape{4, 2, 7, 7}, 61);
  expect_throw_with([&] { m.forward(other, plan, ws); }, {"made for input [3, 2, 7, 7]", "got [4, 2, 7, 7]"});
  Sequential<float> renamed = small_cnn(2, 4, 7, 5);
  renamed.add("extra", GELU<float>());
  expect_throw_with<ConfigError>([&] { renamed.forward(x, plan, ws); }, {"another model"});
  expect_throw_with<ConfigError>([&] { m.forward_for_backward(x, plan, ws); }, {"the plan is for forward"});
  const Plan three = m.plan(x.shape(), strategy::Auto{}, Pass::inference, ExecutorProfile(current_workers() + 1));
  expect_throw_with<ConfigError>([&] { m.forward(x, three, ws); }, {"worker(s); this scope has"});
}

TEST(MakePlanTest, TheSamePlanFromTheSameProfileWhereverItIsBuilt) {
  const Sequential<float> m = models::letter_cnn<float>(26, 1);
  for (std::size_t batch : {1, 7, 64}) {
    const Shape in{batch, 1, 28, 28};
    const ExecutorProfile two(2, true, 120);
    const std::string outside = m.plan(in, Strategy(), Pass::inference, two).describe();
    const std::string inside = Executor(1).run([&] { return m.plan(in, Strategy(), Pass::inference, two).describe(); });
    EXPECT_EQ(outside, inside);
  }
}

// Where the profile's hand-off is dear (the cores far apart), Auto prices every cut higher: fewer
// stages are cut at batch 1.
TEST(MakePlanTest, AutoDecidesFromTheProfilesHandOff) {
  const Sequential<float> m = models::letter_cnn<float>(26, 1);
  const Shape in{1, 1, 28, 28};
  auto cut_stages = [&](double hand_off_ns) {
    std::size_t cut = 0;
    for (const PlanStage& st : m.plan(in, Strategy(), Pass::inference, ExecutorProfile(2, true, hand_off_ns)).stages)
      cut += st.blocks > 1;
    return cut;
  };
  EXPECT_GT(cut_stages(110), cut_stages(2000));
  EXPECT_EQ(cut_stages(110), cut_stages(0));  // close: as unmeasured
}

TEST(MakePlanTest, TheLetterCnnPlanShowsStagesCutsKernelsAndTheTeam) {
  const Sequential<float> m = models::letter_cnn<float>(26, 1);
  const std::string one = m.plan(Shape{1, 1, 28, 28}, Strategy(), Pass::inference, ExecutorProfile(2)).describe();
  EXPECT_NE(one.find("layer by layer"), std::string::npos) << one;
  EXPECT_NE(one.find("kept in a team"), std::string::npos) << one;
  EXPECT_NE(one.find("kernel: direct"), std::string::npos) << one;
  EXPECT_NE(one.find("a post-op of conv1"), std::string::npos) << one;
  const std::string many = m.plan(Shape{64, 1, 28, 28}, Strategy(), Pass::inference, ExecutorProfile(2)).describe();
  EXPECT_NE(many.find("depth-first: 64 images in 4 blocks of up to 16"), std::string::npos) << many;
  EXPECT_NE(many.find("images per GEMM"), std::string::npos) << many;
  const Plan train = m.plan(Shape{64, 1, 28, 28}, Strategy(), Pass::for_backward, ExecutorProfile(2));
  EXPECT_FALSE(train.depth_first());
  EXPECT_EQ(train.backward.size(), 10u);  // three fused conv stages, then flatten, fc1, gelu4, fc2, gelu5, fc3, log_softmax
  EXPECT_NE(train.describe().find("backward: conv2 through 2x2 max pool + GELU(tanh) in one pass"), std::string::npos);
}

// forward(x, strategy, ws) keeps its plan in `ws`: another strategy, shape or a changed model with the
// same workspace makes a new one, and the bits stay right.
TEST(MakePlanTest, TheWorkspaceKeepsThePlanUntilSomethingChanges) {
  Sequential<float> m = small_model();
  const Tensor<float> x7 = random_tensor<float>(Shape{7, 2, 7, 7}, 70), x1 = random_tensor<float>(Shape{1, 2, 7, 7}, 71);
  const Tensor<float> e7 = m.forward(x7, strategy::Serial{}), e1 = m.forward(x1, strategy::Serial{});
  Executor(2).run([&] {
    Workspace<float> ws;
    for (const Strategy& s : plan_strategies()) {
      EXPECT_TRUE(bitwise<float>(Tensor<float>(m.forward(x7, s, ws)), e7)) << s.name();
      EXPECT_TRUE(bitwise<float>(Tensor<float>(m.forward(x1, s, ws)), e1)) << s.name();
    }
    m.fuse_post_ops(false);
    EXPECT_TRUE(bitwise<float>(Tensor<float>(m.forward(x7, eager_auto(), ws)), e7));
    m.add("tail", GELU<float>());
    EXPECT_EQ(m.forward(x7, eager_auto(), ws).shape(), e7.shape());  // a new plan for the new layer
  });
}

}  // namespace
}  // namespace parcnn::test
