// ModelPipeline: the model's forward bit for bit, in order, for any cut, micro-batch size (a smaller
// last one included), in-flight bound and stage worker count; balanced_cuts; clear errors.
#include <parcnn/layers/model_pipeline.hpp>
#include <parcnn/models/letter_cnn.hpp>
#include <parcnn/models/small_resnet.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(ModelPipelineTest, GivesTheBitsOfTheForwardForEveryCut) {
  const Sequential<float> m = models::letter_cnn<float>(26, 3);
  const Tensor<float> x = random_tensor<float>(Shape{7, 1, 28, 28}, 5);
  const Tensor<float> expected = m.forward(x, strategy::Serial{});
  // two stages cut anywhere (inside a conv's post-ops too), three, and every layer a stage of its own
  std::vector<std::vector<std::size_t>> cuts;
  for (std::size_t c = 1; c < m.size(); ++c) cuts.push_back({c});
  cuts.push_back({3, 7});
  std::vector<std::size_t> all;
  for (std::size_t c = 1; c < m.size(); ++c) all.push_back(c);
  cuts.push_back(all);
  for (const auto& c : cuts)
    for (std::size_t micro : {1, 3, 7}) {
      ModelPipeline<float> pipe(m, c);
      const Tensor<float> y = pipe.forward(x, micro);
      EXPECT_TRUE(bitwise<float>(y, expected)) << pipe.stages() << " stages, first cut " << c[0] << ", micro-batch " << micro;
      EXPECT_EQ(pipe.trace().items, (7 + micro - 1) / micro);
    }
}

TEST(ModelPipelineTest, AResidualNetworkInEvalModeWithWideStagesAndOneInFlight) {
  Sequential<float> m = models::small_resnet<float>(10, 1, 8, 4);
  m.train(false);
  const Tensor<float> x = random_tensor<float>(Shape{5, 1, 28, 28}, 6);
  const Tensor<float> expected = m.forward(x, strategy::Serial{});
  for (std::size_t in_flight : {1, 3}) {
    ModelPipelineOptions o;
    o.workers = {2, 1};
    o.in_flight = in_flight;
    ModelPipeline<float> pipe(m, ModelPipeline<float>::balanced_cuts(m, Shape{2, 1, 28, 28}, 2), o);
    EXPECT_TRUE(bitwise<float>(pipe.forward(x, 2), expected)) << in_flight << " in flight";
    EXPECT_TRUE(bitwise<float>(pipe.forward(x, 2), expected)) << "a second run on the same pipeline";
  }
}

TEST(ModelPipelineTest, RunsInputsOfDifferentShapesInOrder) {
  Sequential<float> m;  // fully convolutional: any image size
  Conv2d<float> a(2, 4, 3, 1, 1), b(4, 3, 3, 1, 1);
  fill_uniform<float>(a.weight(), -0.5, 0.5, 1);
  fill_uniform<float>(b.weight(), -0.5, 0.5, 2);
  m.add("a", a).add("relu", ReLU<float>()).add("b", b);
  std::vector<Tensor<float>> in, out, expected;
  for (std::size_t i = 0; i < 9; ++i) {
    in.push_back(random_tensor<float>(Shape{1 + i % 3, 2, 5 + 3 * i, 4 + i}, 10 + i));
    expected.push_back(m.forward(in.back(), strategy::Serial{}));
    out.emplace_back(expected.back().shape());
  }
  std::vector<TensorView<const float>> iv(in.begin(), in.end());
  std::vector<TensorView<float>> ov;
  for (auto& t : out) ov.push_back(t.view());
  ModelPipeline<float> pipe(m, {2});
  pipe.run(iv, ov);
  for (std::size_t i = 0; i < 9; ++i) EXPECT_TRUE(bitwise<float>(out[i], expected[i])) << "input " << i;
}

TEST(ModelPipelineTest, BalancedCutsEvenTheEstimatesBetweenThePlansStages) {
  const Sequential<float> m = models::letter_cnn<float>(26, 3);
  const Shape in{1, 1, 28, 28};
  const std::vector<PlanStage> units = planner::stages(m, in, 1);  // conv + pool + GELU is one
  ASSERT_LT(units.size(), m.size());
  EXPECT_TRUE(ModelPipeline<float>::balanced_cuts(m, in, 1).empty());
  const std::vector<std::size_t> two = ModelPipeline<float>::balanced_cuts(m, in, 2);
  ASSERT_EQ(two.size(), 1u);
  // no other cut between the plan's stages has a smaller largest stage
  auto largest = [&](std::size_t cut) {
    double a = 0, b = 0;
    for (const PlanStage& u : units) (u.first < cut ? a : b) += strategy::Auto{}.estimated_ns(u.work);
    return std::max(a, b);
  };
  bool on_a_boundary = false;
  for (const PlanStage& u : units) {
    on_a_boundary = on_a_boundary || u.first == two[0];
    if (u.first > 0) {
      EXPECT_LE(largest(two[0]), largest(u.first)) << "cut " << u.first;
    }
  }
  EXPECT_TRUE(on_a_boundary) << "cut " << two[0] << " splits a layer from its post-ops";
  const std::vector<std::size_t> all = ModelPipeline<float>::balanced_cuts(m, in, units.size());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], units[i + 1].first);
  EXPECT_THROW(ModelPipeline<float>::balanced_cuts(m, in, units.size() + 1), ConfigError);
  EXPECT_THROW(ModelPipeline<float>::balanced_cuts(m, in, 0), ConfigError);
}

TEST(ModelPipelineTest, MeasuredCutsFallBetweenThePlansStages) {
  const Sequential<float> m = models::letter_cnn<float>(26, 3);
  const Shape in{2, 1, 28, 28};
  const std::vector<PlanStage> units = planner::stages(m, in, 1);
  const TuneOptions quick{1, 0.03, 1};
  EXPECT_TRUE(ModelPipeline<float>::measured_cuts(m, in, 1, quick).empty());
  for (std::size_t stages : {2, 3}) {
    const std::vector<std::size_t> cuts = ModelPipeline<float>::measured_cuts(m, in, stages, quick);
    ASSERT_EQ(cuts.size(), stages - 1);
    for (std::size_t i = 0; i < cuts.size(); ++i) {
      EXPECT_TRUE(std::any_of(units.begin() + 1, units.end(), [&](const PlanStage& u) { return u.first == cuts[i]; }))
          << "cut " << cuts[i];
      if (i > 0) {
        EXPECT_GT(cuts[i], cuts[i - 1]);
      }
    }
    const Tensor<float> x = random_tensor<float>(in, 4);
    EXPECT_TRUE(bitwise<float>(ModelPipeline<float>(m, cuts).forward(x, 1), m.forward(x, strategy::Serial{})));
  }
  EXPECT_THROW(ModelPipeline<float>::measured_cuts(m, in, units.size() + 1, quick), ConfigError);
}

TEST(ModelPipelineTest, RefusesBadCutsAndShapes) {
  const Sequential<float> m = small_cnn(3, 4, 8, 5);
  expect_throw_with<ConfigError>([&] { ModelPipeline<float>(m, {0}); }, {"cut at layer 0"});
  expect_throw_with<ConfigError>([&] { ModelPipeline<float>(m, {3, 2}); }, {"cuts must rise"});
  expect_throw_with<ConfigError>([&] { ModelPipeline<float>(m, {m.size()}); }, {"cut at layer"});
  ModelPipelineOptions o;
  o.workers = {1, 1, 1};
  expect_throw_with<ConfigError>([&] { ModelPipeline<float>(m, {2}, o); }, {"3 worker counts for 2 stages"});
  ModelPipeline<float> pipe(m, {2});
  expect_throw_with<ShapeError>([&] { pipe.forward(random_tensor<float>(Shape{2, 2, 8, 8}, 1), 1); }, {"conv"});
  EXPECT_THROW(pipe.forward(random_tensor<float>(Shape{2, 3, 8, 8}, 1), 0), ConfigError);
  Tensor<float> wrong(Shape{2, 4});
  const Tensor<float> x = random_tensor<float>(Shape{2, 3, 8, 8}, 1);
  expect_throw_with<ShapeError>([&] { pipe.run({x.view()}, {wrong.view()}); }, {"output 0 is [2, 4]", "[2, 5]"});
  EXPECT_TRUE(bitwise<float>(pipe.forward(x, 1), m.forward(x, strategy::Serial{})));  // still runs after refusing
}

TEST(ModelPipelineTest, DescribesItsStages) {
  const Sequential<float> m = models::letter_cnn<float>(26, 3);
  ModelPipeline<float> pipe(m, {4});
  const std::string text = pipe.describe(Shape{1, 1, 28, 28});
  EXPECT_NE(text.find("2 stages, 4 micro-batches in flight"), std::string::npos) << text;
  EXPECT_NE(text.find("stage 0: layers 0-3 (conv1 .. "), std::string::npos) << text;
  EXPECT_NE(text.find("us/core estimated"), std::string::npos) << text;
}

}  // namespace
}  // namespace parcnn::test
