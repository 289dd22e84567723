// Sequential: shape inference, error messages naming the layer, parameter names, workspace reuse,
// depth-first blocks, fused post-ops, a gradient observer told stage by stage, and forward called from
// inside parallel regions.
#include <parcnn/layers/conv2d.hpp>
#include <parcnn/layers/flatten.hpp>
#include <parcnn/layers/gelu.hpp>
#include <parcnn/layers/linear.hpp>
#include <parcnn/layers/maxpool2d.hpp>
#include <parcnn/layers/relu.hpp>
#include <parcnn/layers/sequential.hpp>
#include <parcnn/models/letter_cnn.hpp>
#include <parcnn/models/small_resnet.hpp>

#include <oneapi/tbb/parallel_for.h>

#include <array>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

Sequential<float> small_model() { return small_cnn(2, 4, 7, 5); }

// A 3×3 convolution (padding 1) from `channels` to 3 channels with fixed weights.
Conv2d<float> conv2d_after(std::size_t channels) {
  Conv2d<float> c(channels, 3, 3, 1, 1);
  fill_uniform<float>(c.weight(), -0.3, 0.3, 9);
  return c;
}

TEST(SequentialTest, InfersEveryShapeBeforeRunning) {
  const Sequential<float> m = small_model();
  const std::vector<Shape> s = m.shapes(Shape{3, 2, 7, 7});
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s[0], (Shape{3, 4, 7, 7}));
  EXPECT_EQ(s[1], (Shape{3, 4, 3, 3}));
  EXPECT_EQ(s[3], (Shape{3, 36}));
  EXPECT_EQ(s[4], (Shape{3, 5}));
  EXPECT_EQ(m.output_shape(Shape{3, 2, 7, 7}), (Shape{3, 5}));
}

TEST(SequentialTest, ErrorNamesTheLayerThatCannotTakeItsInput) {
  const Sequential<float> m = small_model();
  // 9×9 input: pool gives 4×4, so fc receives 64 features instead of 36.
  expect_throw_with([&] { m.forward(Tensor<float>(Shape{3, 2, 9, 9})); },
                    {"layer 4 'fc'", "Linear(36->5)", "[N, 36]", "got [3, 64]"});
  expect_throw_with([&] { m.forward(Tensor<float>(Shape{3, 1, 7, 7})); }, {"layer 0 'conv'", "got [3, 1, 7, 7]"});
}

TEST(SequentialTest, MatchesRunningTheLayersOneByOne) {
  Sequential<float> m = small_model();
  const Tensor<float> x = random_tensor<float>(Shape{3, 2, 7, 7}, 9);
  Tensor<float> step = Tensor<float>(x.view());
  for (std::size_t i = 0; i < m.size(); ++i) step = m[i].forward(step, strategy::Serial{});
  EXPECT_TRUE(bitwise<float>(m.forward(x, strategy::Serial{}), step));
  expect_strategies_match_sequential<float>(m, x);
}

TEST(SequentialTest, NamesParametersLikeAPyTorchStateDict) {
  Sequential<float> m = small_model();
  std::vector<std::string> names;
  for (const auto& p : m.parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv.weight", "conv.bias", "fc.weight", "fc.bias"}));
  EXPECT_EQ(&m.get<Linear<float>>("fc").weight(), m.parameters()[2].tensor);
  EXPECT_THROW(m.get<Conv2d<float>>("fc"), std::out_of_range);
  EXPECT_THROW(m.get("nope"), std::out_of_range);
  EXPECT_THROW(m.add("fc", Flatten<float>()), ConfigError);
}

TEST(SequentialTest, SlicesRunOneAfterAnotherGiveTheBitsOfTheWhole) {
  Sequential<float> m = small_cnn(3, 4, 8, 5);
  m.train(false);
  m.get<GELU<float>>("act").train(true);  // a layer's own mode travels with it
  const Tensor<float> x = random_tensor<float>(Shape{3, 3, 8, 8}, 2);
  const Tensor<float> whole = m.forward(x, strategy::Serial{});
  for (std::size_t cut = 1; cut < m.size(); ++cut) {
    const Sequential<float> a = m.slice(0, cut), b = m.slice(cut, m.size());
    EXPECT_EQ(a.size() + b.size(), m.size());
    EXPECT_EQ(b.layer_name(0), m.layer_name(cut));
    EXPECT_FALSE(a.training());
    EXPECT_TRUE(bitwise<float>(b.forward(a.forward(x, strategy::Serial{}), strategy::Auto{}), whole)) << "cut " << cut;
  }
  EXPECT_TRUE(m.slice(2, 3)[0].training());
  m.get<Conv2d<float>>("conv").weight()(0, 0, 0, 0) += 1;
  EXPECT_NE(m.slice(0, 1).get<Conv2d<float>>("conv").weight()(0, 0, 0, 0), small_cnn(3, 4, 8, 5).get<Conv2d<float>>("conv").weight()(0, 0, 0, 0))
      << "a slice copies the layers as they are now";
  EXPECT_THROW(m.slice(2, 2), ConfigError);
  EXPECT_THROW(m.slice(0, m.size() + 1), ConfigError);
}

TEST(SequentialTest, CopiesAreDeep) {
  Sequential<float> a = small_model();
  Sequential<float> b = a;
  b.get<Conv2d<float>>("conv").weight()(0, 0, 0, 0) += 1.0f;
  EXPECT_NE(a.get<Conv2d<float>>("conv").weight()(0, 0, 0, 0), b.get<Conv2d<float>>("conv").weight()(0, 0, 0, 0));
}

TEST(SequentialTest, WorkspaceIsReusedAtASteadyShape) {
  const Sequential<float> m = small_model();
  const Tensor<float> x = random_tensor<float>(Shape{3, 2, 7, 7}, 9);
  Workspace<float> ws;
  const TensorView<const float> first = m.forward(x, strategy::Batch{}, ws);
  const Tensor<float> kept(first);
  const TensorView<const float> second = m.forward(x, strategy::Batch{}, ws);
  EXPECT_EQ(first.data(), second.data());  // same buffer: nothing was reallocated
  EXPECT_TRUE(bitwise<float>(second, kept));
  // A smaller batch fits in the same buffers.
  EXPECT_EQ(m.forward(x.batch(0, 1), strategy::Batch{}, ws).data(), first.data());
}

TEST(SequentialTest, EmptyModelIsIdentity) {
  const Sequential<float> m;
  const Tensor<float> x = random_tensor<float>(Shape{2, 3}, 1);
  EXPECT_TRUE(bitwise<float>(m.forward(x), x));
}

TEST(SequentialTest, DescribeExplainsEachLayersCut) {
  const Sequential<float> m = small_model();
  const std::string text = m.plan(Shape{64, 2, 7, 7}, strategy::Auto{}, Pass::inference, ExecutorProfile(2)).describe();
  EXPECT_NE(text.find("conv"), std::string::npos);
  EXPECT_NE(text.find("depth-first: 64 images in 4 blocks of up to 16"), std::string::npos) << text;
  EXPECT_NE(text.find(" us/core "), std::string::npos) << text;  // each layer's one-core estimate
  // Layer by layer (one image), each line gives Auto's reason.
  const std::string one = m.plan(Shape{1, 2, 7, 7}, strategy::Auto{}, Pass::inference, ExecutorProfile(2)).describe();
  EXPECT_NE(one.find("worth a fork-join"), std::string::npos) << one;
  EXPECT_EQ(one.find("depth-first"), std::string::npos) << one;
  EXPECT_NE(m.plan(Shape{1, 2, 7, 7}, strategy::Channel{}, Pass::inference, ExecutorProfile(2)).describe().find("fixed by the caller"), std::string::npos);
}

// Auto that forks for any amount of work, so the small model runs depth-first.
strategy::Auto eager_auto() {
  strategy::Auto a;
  a.fork_join_ns = 0;
  a.in_image_ns = 0;
  return a;
}

TEST(SequentialTest, DepthFirstCutFollowsTheStrategy) {
  const Sequential<float> m = small_model();
  const Shape in{7, 2, 7, 7};
  // The small model is below Auto's default fork-join threshold: Auto keeps it whole.
  EXPECT_EQ(planner::depth_first_cut(m, in, strategy::Auto{}, 2).n, 7u);
  const strategy::Auto eager = eager_auto();
  EXPECT_EQ(planner::depth_first_cut(m, in, strategy::Batch{2}, 2).n, 2u);
  EXPECT_EQ(planner::depth_first_cut(m, in, eager, 2).n, 4u);  // one block per worker: 4 + 3 images
  EXPECT_EQ(planner::depth_first_cut(m, Shape{28, 2, 7, 7}, eager, 2).n, 14u);  // two per worker would hold 7
  EXPECT_EQ(planner::depth_first_cut(m, Shape{32, 2, 7, 7}, eager, 2).n, 8u);   // two per worker of 8 images
  EXPECT_EQ(planner::depth_first_cut(m, Shape{200, 2, 7, 7}, eager, 2).n, 32u);  // at most 32 images
  EXPECT_EQ(planner::depth_first_cut(m, in, eager, 1).n, 7u);  // one worker: layer by layer
  EXPECT_EQ(planner::depth_first_cut(m, Shape{1, 2, 7, 7}, eager, 2).n, 1u);  // batch 1: nothing to cut
  EXPECT_EQ(planner::depth_first_cut(m, in, strategy::Spatial{}, 2).n, 7u);
  EXPECT_EQ(planner::depth_first_cut(m, in, strategy::Channel{}, 2).n, 7u);
  strategy::Auto capped = eager;
  capped.depth_first_max_images = 3;
  EXPECT_EQ(planner::depth_first_cut(m, in, capped, 2).n, 3u);
  EXPECT_EQ(planner::depth_first_cut(m, in, capped, 1).n, 7u);  // one worker, fused post-ops: layer by layer
  Sequential<float> unfused = m;
  unfused.fuse_post_ops(false);
  EXPECT_EQ(planner::depth_first_cut(unfused, in, capped, 1).n, 3u);  // unfused: blocks once the batch exceeds the cap
  EXPECT_EQ(planner::depth_first_cut(unfused, in, eager, 1).n, 7u);   // and not below it
  const std::string plan = m.plan(in, eager, Pass::inference, ExecutorProfile(2)).describe();
  EXPECT_NE(plan.find("depth-first: 7 images in 2 blocks of up to 4"), std::string::npos) << plan;
  EXPECT_NE(plan.find("inside a depth-first block"), std::string::npos) << plan;
  EXPECT_EQ(m.plan(in, strategy::Auto{}, Pass::inference, ExecutorProfile(2)).describe().find("depth-first"), std::string::npos);
}

TEST(SequentialTest, DepthFirstGivesTheBitsOfLayerByLayer) {
  const Sequential<float> m = small_model();
  const Tensor<float> x = random_tensor<float>(Shape{7, 2, 7, 7}, 4);
  const Tensor<float> expected = m.forward(x, strategy::Serial{});
  for (std::size_t threads : {1, 2, 3})
    for (const Strategy& s : {Strategy(strategy::Batch{}), Strategy(strategy::Batch{3}), Strategy(eager_auto())}) {
      Workspace<float> ws;
      const Tensor<float> y = Executor(threads).run([&] { return Tensor<float>(m.forward(x, s, ws)); });
      EXPECT_TRUE(bitwise<float>(y, expected)) << s.name() << ", " << threads << " threads";
    }
}

TEST(SequentialTest, BackwardNeedsTheActivationsOfForwardForBackward) {
  const Sequential<float> m = small_model();
  const Tensor<float> x = random_tensor<float>(Shape{4, 2, 7, 7}, 5);
  GradientChunks<float> chunks;
  chunks.plan(m.parameter_shapes(), 4, 2);
  Workspace<float> ws;
  const Tensor<float> y = Executor(2).run([&] { return Tensor<float>(m.forward(x, strategy::Batch{2}, ws)); });
  const Tensor<float> g = random_tensor<float>(y.shape(), 6);
  expect_throw_with<ConfigError>(
      [&] { m.backward(x, y, g, TensorView<float>(), GradientSlice<float>{&chunks, 0}, ws); },
      {"Sequential::backward", "layer 0 'conv'", "[4, 2, 7, 7]", "forward_for_backward"});
  Workspace<float> fresh;
  expect_throw_with<ConfigError>(
      [&] { m.backward(x, y, g, TensorView<float>(), GradientSlice<float>{&chunks, 0}, fresh); }, {"forward_for_backward"});
  const Tensor<float> kept(m.forward_for_backward(x, strategy::Batch{2}, ws));
  EXPECT_TRUE(bitwise<float>(kept, y));
  EXPECT_NO_THROW(m.backward(x, kept, g, TensorView<float>(), GradientSlice<float>{&chunks, 0}, ws));
  // A fused forward layer by layer on the same workspace leaves the other activations stale: refused.
  EXPECT_TRUE(bitwise<float>(m.forward(x, strategy::Serial{}, ws), kept));
  expect_throw_with<ConfigError>(
      [&] { m.backward(x, kept, g, TensorView<float>(), GradientSlice<float>{&chunks, 0}, ws); },
      {"layer 0 'conv'", "forward_for_backward"});
}

TEST(SequentialTest, FusesAPoolAndGeluAfterAConvolution) {
  Sequential<float> m = small_model();
  const Shape in{3, 2, 7, 7};
  using K = kernels::PostOp::Kind;
  const kernels::PostOps pool_gelu{{K::max_pool_2x2}, {K::gelu}};
  kernels::PostOps e;
  EXPECT_EQ(planner::forward_stage(m, 0, in, e, 2), 3u);  // conv, pool, act
  EXPECT_EQ(e, pool_gelu);
  EXPECT_EQ(planner::forward_stage(m, 3, Shape{3, 4, 3, 3}, e, 2), 4u);  // flatten: nothing to fuse
  EXPECT_TRUE(e.empty());
  // Fewer images than workers: unfused where the strategy cuts the pooled maps, fused where it cuts
  // only channels or runs the stage on one worker (the small model is below Auto's fork-join threshold).
  EXPECT_EQ(planner::forward_stage(m, 0, in, e, 4, strategy::Spatial{}), 1u);
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(planner::forward_stage(m, 0, in, e, 4, strategy::Tiled{2, 2}), 1u);
  EXPECT_EQ(planner::forward_stage(m, 0, in, e, 4, strategy::Channel{}), 3u);
  EXPECT_EQ(e, pool_gelu);
  EXPECT_EQ(planner::forward_stage(m, 0, in, e, 4, eager_auto()), 3u);  // by channel: 3 pooled rows split badly
  EXPECT_EQ(planner::forward_stage(m, 0, in, e, 4, strategy::Auto{}), 3u);
  EXPECT_EQ(planner::forward_stage(m, 0, in, e, 4, strategy::Serial{}), 3u);
  EXPECT_EQ(planner::stages(m, in, 4, strategy::Spatial{}).size(), m.size() - 1);  // conv | pool + act | ...
  EXPECT_EQ(planner::forward_stage(m, 0, Shape{1, 2, 7, 7}, e, 1), 3u);
  const std::string plan = m.plan(in, strategy::Serial{}, Pass::inference, ExecutorProfile(1)).describe();
  EXPECT_NE(plan.find("a post-op of conv"), std::string::npos) << plan;
  m.fuse_post_ops(false);
  EXPECT_EQ(planner::forward_stage(m, 0, in, e, 2), 1u);
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(m.plan(in, strategy::Serial{}, Pass::inference, ExecutorProfile(1)).describe().find("post-op"), std::string::npos);
  EXPECT_FALSE(Sequential<float>(m).fuses_post_ops());  // copies keep the setting
}

// Models whose conv is followed by what can and cannot fuse: GELU before the pool (only GELU fuses),
// a 3×3 pool, a ceil-mode pool on an odd map (neither fuses), a pool on an even map in ceil mode (fuses);
// ReLU after the pool, and Linear layers followed by element-wise layers (they fuse too).
std::vector<std::pair<Sequential<float>, std::size_t>> fusion_models() {
  auto conv = [] {
    Conv2d<float> c(2, 5, 3, 1, 1);
    fill_uniform<float>(c.weight(), -0.3, 0.3, 7);
    fill_uniform<float>(c.bias(), -0.1, 0.1, 8);
    return c;
  };
  std::vector<std::pair<Sequential<float>, std::size_t>> models;  // the model, its first stage's end
  models.emplace_back(Sequential<float>(), 2);
  models.back().first.add("conv", conv()).add("act", GELU<float>()).add("pool", MaxPool2d<float>(2));
  models.emplace_back(Sequential<float>(), 1);
  models.back().first.add("conv", conv()).add("pool", MaxPool2d<float>(3)).add("act", GELU<float>());
  models.emplace_back(Sequential<float>(), 1);
  models.back().first.add("conv", conv()).add("pool", MaxPool2d<float>(2, 2, 0, PoolRounding::ceil));
  models.emplace_back(Sequential<float>(), 3);
  models.back().first.add("conv", conv()).add("pool", MaxPool2d<float>(2)).add("act", GELU<float>(GeluApproximation::tanh));
  models.back().first.add("conv2", conv2d_after(5)).add("act2", GELU<float>());
  models.emplace_back(Sequential<float>(), 3);
  models.back().first.add("conv", conv()).add("pool", MaxPool2d<float>(2)).add("act", ReLU<float>());
  models.back().first.add("flatten", Flatten<float>()).add("fc1", Linear<float>(80, 6)).add("act2", GELU<float>());
  models.back().first.add("fc2", Linear<float>(6, 3)).add("act3", ReLU<float>()).add("act4", GELU<float>());
  fill_uniform<float>(models.back().first.get<Linear<float>>("fc1").weight(), -0.3, 0.3, 9);
  fill_uniform<float>(models.back().first.get<Linear<float>>("fc2").weight(), -0.5, 0.5, 10);
  fill_uniform<float>(models.back().first.get<Linear<float>>("fc2").bias(), -0.5, 0.5, 11);
  return models;
}

// Element-wise layers fuse after any layer in inference (a Linear layer runs them on each block's
// outputs); training fuses only what a fused backward reads.
TEST(SequentialTest, FusesElementwiseLayersAfterAnyLayer) {
  using K = kernels::PostOp::Kind;
  const Sequential<float> m = fusion_models()[4].first;  // conv, pool, relu, flatten, fc1, gelu, fc2, relu, gelu
  kernels::PostOps e;
  EXPECT_EQ(planner::forward_stage(m, 0, Shape{7, 2, 9, 9}, e, 2), 3u);
  EXPECT_EQ(e, (kernels::PostOps{{K::max_pool_2x2}, {K::relu}}));
  EXPECT_EQ(planner::forward_stage(m, 4, Shape{7, 80}, e, 2), 6u);
  EXPECT_EQ(e, (kernels::PostOps{{K::gelu}}));
  EXPECT_EQ(planner::forward_stage(m, 6, Shape{7, 6}, e, 2), 9u);
  EXPECT_EQ(e, (kernels::PostOps{{K::relu}, {K::gelu}}));
  EXPECT_EQ(planner::backward_stage(m, 0, Shape{7, 2, 9, 9}, e), 3u);
  EXPECT_EQ(planner::backward_stage(m, 4, Shape{7, 80}, e), 5u);
  EXPECT_TRUE(e.empty());
  const Plan plan = m.plan(Shape{7, 2, 9, 9}, strategy::Serial{}, Pass::inference, ExecutorProfile(1));
  ASSERT_EQ(plan.stages.size(), 4u);  // conv + pool + relu, flatten, fc1 + gelu, fc2 + relu + gelu
  EXPECT_NE(plan.describe().find("a post-op of fc2"), std::string::npos) << plan.describe();
}

TEST(SequentialTest, FusedForwardHasTheBitsOfTheLayersApart) {
  const Tensor<float> odd = random_tensor<float>(Shape{7, 2, 9, 9}, 11), even = random_tensor<float>(Shape{7, 2, 8, 8}, 12);
  const Tensor<float> one = random_tensor<float>(Shape{1, 2, 9, 9}, 13);  // fused on 2 threads only when not cut
  for (auto& model_and_end : fusion_models())
    for (const Tensor<float>* x : {&odd, &even, &one}) {
      const Sequential<float>& m = model_and_end.first;  // a lambda below captures it (not a binding)
      const std::size_t first_stage_end = model_and_end.second;
      kernels::PostOps e;
      const std::size_t end = planner::forward_stage(m, 0, x->shape(), e, 2);
      if (x == &odd) {
        EXPECT_EQ(end, first_stage_end) << m[1].name();
      }
      Sequential<float> apart = m;
      apart.fuse_post_ops(false);
      const Tensor<float> expected = apart.forward(*x, strategy::Serial{});
      for (std::size_t threads : {1, 2})
        for (const Strategy& s : {Strategy(strategy::Serial{}), Strategy(strategy::Channel{}),
                                  Strategy(strategy::Spatial{}), Strategy(strategy::Batch{3}), Strategy(eager_auto()),
                                  Strategy(strategy::Auto{})}) {
          Workspace<float> ws;
          const Tensor<float> y = Executor(threads).run([&] { return Tensor<float>(m.forward(*x, s, ws)); });
          EXPECT_TRUE(bitwise<float>(y, expected)) << m[1].name() << " on " << x->shape().str() << ", " << s.name()
                                                   << ", " << threads << " threads";
        }
    }
}

// Backward runs conv → 2×2 pool (→ GELU) as one stage (Conv2d::backward_fused) wherever the pool comes
// first; the gradients match the layers' own backward passes and keep their bits on 1, 2 and 3 threads.
TEST(SequentialTest, FusedBackwardMatchesTheLayersApart) {
  const Tensor<float> odd = random_tensor<float>(Shape{7, 2, 9, 9}, 21), even = random_tensor<float>(Shape{5, 2, 8, 8}, 22);
  const std::size_t backward_ends[] = {1, 1, 1, 3, 3};  // on the odd input: fused only where the pool comes first
  std::size_t model = 0;
  for (auto& model_and_end : fusion_models()) {
    const Sequential<float>& m = model_and_end.first;
    for (const Tensor<float>* x : {&odd, &even}) {
      SCOPED_TRACE(m[1].name() + " on " + x->shape().str());
      kernels::PostOps e;
      if (x == &odd) {
        EXPECT_EQ(planner::backward_stage(m, 0, x->shape(), e), backward_ends[model]);
      }
      Sequential<float> apart = m;
      apart.fuse_post_ops(false);
      EXPECT_EQ(planner::backward_stage(apart, 0, x->shape(), e), 1u);
      const Tensor<float> grad = random_tensor<float>(m.output_shape(x->shape()), 23);
      const std::vector<Tensor<float>> expected = run_backward<float>(apart, *x, grad, 3);
      const std::vector<Tensor<float>> first = run_backward<float>(m, *x, grad, 3);
      for (std::size_t i = 0; i < expected.size(); ++i)
        EXPECT_TRUE(near<float>(first[i], expected[i], tolerance<float>())) << "gradient " << i;
      for (std::size_t threads : thread_counts()) {
        const auto again = Executor(threads).run([&] { return run_backward<float>(m, *x, grad, 3); });
        for (std::size_t i = 0; i < first.size(); ++i)
          EXPECT_TRUE(bitwise<float>(again[i], first[i])) << "gradient " << i << ", " << threads << " threads";
      }
    }
    ++model;
  }
}

// forward_for_backward runs a convolution with the pool and GELU after it as one stage where the
// convolution keeps what its fused backward reads (a 2×2 pool comes first): its output is
// the bits of the layers apart, it keeps the pool's values and positions but not the convolution's
// output, and backward from it gives the bits of backward from the layers apart.
TEST(SequentialTest, ForwardForBackwardFusesWhereTheLayerKeepsWhatBackwardReads) {
  const Sequential<float> m = fusion_models()[3].first;  // conv, pool, act, conv2, act2
  Sequential<float> apart = m;
  apart.fuse_post_ops(false);
  const Tensor<float> x = random_tensor<float>(Shape{7, 2, 9, 9}, 31);
  kernels::PostOps e;
  EXPECT_EQ(planner::backward_stage(m, 0, x.shape(), e), 3u);
  EXPECT_EQ(e, (kernels::PostOps{{kernels::PostOp::Kind::max_pool_2x2}, {kernels::PostOp::Kind::gelu_tanh}}));
  EXPECT_EQ(planner::backward_stage(m, 3, Shape{7, 5, 4, 4}, e), 4u);  // conv2: GELU alone, no pool
  EXPECT_EQ(planner::backward_stage(apart, 0, x.shape(), e), 1u);
  const Tensor<float> grad = random_tensor<float>(m.output_shape(x.shape()), 32);
  GradientChunks<float> chunks;
  auto backward = [&](Workspace<float>& ws, TensorView<const float> out) {
    chunks.plan(m.parameter_shapes(), 7, 3);
    Tensor<float> dx(x.shape());
    m.backward(x, out, grad, dx.view(), GradientSlice<float>{&chunks, 0}, ws);
    std::vector<Tensor<float>> result{dx};
    for (const Shape& shape : m.parameter_shapes()) result.emplace_back(shape);
    std::vector<TensorView<float>> views;
    for (std::size_t p = 1; p < result.size(); ++p) views.push_back(result[p].view());
    reduce_chunks(chunks, views);
    return result;
  };
  // The reference: every layer's forward apart (the pool records its positions), the fused backward.
  Workspace<float> apart_ws;
  const Tensor<float> expected(apart.forward_for_backward(x, strategy::Serial{}, apart_ws));
  const std::vector<Tensor<float>> expected_grads = backward(apart_ws, expected);
  for (std::size_t threads : {1, 2})
    for (const Strategy& s : all_strategies()) {
      SCOPED_TRACE(s.name() + ", " + std::to_string(threads) + " threads");
      Workspace<float> ws;
      const Tensor<float> y = Executor(threads).run([&] { return Tensor<float>(m.forward_for_backward(x, s, ws)); });
      EXPECT_TRUE(bitwise<float>(y, expected));
      EXPECT_EQ(ws.tensor(0).shape(), Shape{0});  // the convolution's output is not kept
      EXPECT_TRUE(bitwise<float>(ws.tensor(1), apart_ws.tensor(1)));  // the pool's values
      ASSERT_EQ(ws.child(1).index_count(), apart_ws.child(1).index_count());
      EXPECT_TRUE(std::equal(ws.child(1).indices(), ws.child(1).indices() + ws.child(1).index_count(),
                             apart_ws.child(1).indices()));
      const std::vector<Tensor<float>> grads = backward(ws, y);
      for (std::size_t i = 0; i < grads.size(); ++i)
        EXPECT_TRUE(bitwise<float>(grads[i], expected_grads[i])) << "gradient " << i << " (0: the input's)";
    }
}

// A server that answers requests from its own oneTBB loop, one image each, with any strategy: with
// and without an executor's scope (2 threads, and 3 on 2 cores), some iterations slowed, every forward
// completes with the bits of the sequential run. So does forward inside the blocks of a cut and inside
// a team's run.
// A GradientObserver is told after every backward stage, last first: each parameter exactly once, in
// ranges that end where the one before began, with the slice's chunks (all of them, or chunk c alone);
// the layers' own slices carry none (a stage's parameters are not told twice).
TEST(SequentialTest, BackwardTellsTheObserverAfterEachStageLastFirst) {
  struct Recorder final : GradientObserver {
    std::vector<std::array<std::size_t, 4>> calls;  // first, count, chunk range
    void finished(std::size_t first, std::size_t count, Range chunks) override {
      calls.push_back({first, count, chunks.begin, chunks.end});
    }
  };
  // The letter CNN, and a ResNet whose residual blocks hold Sequentials of their own.
  for (const bool resnet : {false, true})
  for (const bool one_chunk : {false, true}) {
    SCOPED_TRACE(std::string(resnet ? "small ResNet, " : "letter CNN, ") + (one_chunk ? "chunk 1 alone" : "every chunk"));
    const Sequential<float> m = resnet ? models::small_resnet<float>(4, 1, 4, 1) : models::letter_cnn<float>(4, 3);
    const Tensor<float> x = random_tensor<float>(Shape{5, 1, 28, 28}, 41);
    Workspace<float> ws;
    const Tensor<float> y(m.forward_for_backward(x, strategy::Serial{}, ws));
    const Tensor<float> grad = random_tensor<float>(y.shape(), 42);
    GradientChunks<float> chunks;
    chunks.plan(m.parameter_shapes(), 5, 2);  // chunks of 2, 2 and 1 images
    Recorder recorder;
    const GradientSlice<float> all{&chunks, 0, 0, 0, &recorder};
    if (one_chunk) {
      Workspace<float> chunk_ws;
      const TensorView<const float> x1 = TensorView<const float>(x.view()).batch(2, 4);
      const Tensor<float> y1(m.forward_for_backward(x1, strategy::Serial{}, chunk_ws));
      m.backward(x1, y1, TensorView<const float>(grad.view()).batch(2, 4), TensorView<float>(), all.only(1), chunk_ws);
    } else {
      m.backward(x, y, grad, TensorView<float>(), all, ws);
    }
    std::size_t next = m.parameter_count(), with_parameters = 0;
    for (const auto& c : recorder.calls) {
      EXPECT_EQ(c[0] + c[1], next) << "a stage's parameters end where the later stage's begin";
      next = c[0];
      with_parameters += c[1] > 0;
      EXPECT_EQ(c[2], one_chunk ? 1u : 0u);
      EXPECT_EQ(c[3], one_chunk ? 2u : 3u);
    }
    EXPECT_EQ(next, 0u);
    if (!resnet) {
      EXPECT_EQ(with_parameters, 6u);  // conv1-3 (each fused with its pool and GELU), fc1-3
    }
    EXPECT_GT(recorder.calls.size(), with_parameters);  // stages without parameters are told too
  }
}

TEST(SequentialTest, ForwardFromInsideParallelRegionsCompletes) {
  thread_counts();  // lets a 3-thread scope run 3 threads
  const Sequential<float> m = models::letter_cnn<float>(26, 1);
  const Tensor<float> x = random_tensor<float>(Shape{1, 1, 28, 28}, 21, 0, 1);
  const Tensor<float> expected = m.forward(x, strategy::Serial{});
  for (const Strategy& s : all_strategies()) {
    auto expect_forward = [&] {
      const Tensor<float> y = m.forward(x, s);
      EXPECT_TRUE(bitwise<float>(y, expected)) << s.name();
    };
    auto users_loop = [&] {
      users_parallel_for(32, [&](int i) {
        if (i % 4 == 1) std::this_thread::sleep_for(std::chrono::microseconds(50 * (i % 9)));
        expect_forward();
      });
    };
    finishes_within(std::chrono::seconds(120), "forward under " + s.name() + " from parallel regions", [&] {
      users_loop();
      for (std::size_t threads : {2, 3}) {
        Executor scope(threads);
        scope.run(users_loop);
        scope.run([&] {
          run_blocks(IndexSpace{4}, Cut{}, [&](const Block&, std::size_t) { expect_forward(); });
          Team::run(current_workers(), [&] {
            run_blocks(IndexSpace{3}, Cut{}, [&](const Block&, std::size_t) { expect_forward(); });
          });
        });
      }
    });
  }
}

}  // namespace
}  // namespace parcnn::test
