// The letter CNN: its structure, the whole network against the reference kernels, every strategy and
// thread count against Sequential, and concurrent forward calls on one model.
#include <parcnn/models/letter_cnn.hpp>

#include <array>
#include <map>
#include <string>
#include <thread>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class LetterCnnTest : public ::testing::Test {};
TYPED_TEST_SUITE(LetterCnnTest, Scalars);

// The network computed with the reference kernels only, layer by layer.
template <class T>
Tensor<T> reference_forward(Sequential<T>& m, const Tensor<T>& x) {
  Tensor<T> a(x.view());
  for (int i = 1; i <= 3; ++i) {
    auto& conv = m.template get<Conv2d<T>>("conv" + std::to_string(i));
    auto g = conv.geometry(a.shape());
    Tensor<T> y(Shape{a.dim(0), g.out_c, g.out_h, g.out_w});
    kernels::conv2d_forward_reference(a.data(), conv.weight().data(), conv.bias().data(), g, a.dim(0), y.data());
    auto pg = m.template get<MaxPool2d<T>>("pool" + std::to_string(i)).geometry(y.shape());
    Tensor<T> p(Shape{a.dim(0), pg.out_c, pg.out_h, pg.out_w});
    kernels::maxpool2d_forward_reference(y.data(), pg, a.dim(0), p.data());
    for (auto& v : p) v = kernels::gelu_reference(GeluApproximation::tanh, v);
    a = std::move(p);
  }
  Tensor<T> h(a.flatten());
  for (int i = 1; i <= 3; ++i) {
    auto& fc = m.template get<Linear<T>>("fc" + std::to_string(i));
    Tensor<T> y(Shape{h.dim(0), fc.out_features()});
    kernels::linear_forward_reference(h.data(), fc.weight().data(), fc.bias().data(), h.dim(0), fc.in_features(),
                                      fc.out_features(), y.data());
    if (i < 3)
      for (auto& v : y) v = kernels::gelu_reference(GeluApproximation::tanh, v);
    h = std::move(y);
  }
  Tensor<T> out(h.shape());
  kernels::log_softmax_reference(h.data(), h.dim(0), h.dim(1), out.data());
  return out;
}

TYPED_TEST(LetterCnnTest, HasTheGuidesShapesAndParameterNames) {
  using T = TypeParam;
  Sequential<T> m = models::letter_cnn<T>();
  const std::vector<Shape> s = m.shapes(Shape{64, 1, 28, 28});
  EXPECT_EQ(s[0], (Shape{64, 32, 26, 26}));
  EXPECT_EQ(s[1], (Shape{64, 32, 13, 13}));
  EXPECT_EQ(s[3], (Shape{64, 64, 11, 11}));
  EXPECT_EQ(s[4], (Shape{64, 64, 5, 5}));
  EXPECT_EQ(s[6], (Shape{64, 128, 3, 3}));
  EXPECT_EQ(s[7], (Shape{64, 128, 1, 1}));
  EXPECT_EQ(s[9], (Shape{64, 128}));
  EXPECT_EQ(s.back(), (Shape{64, 26}));
  std::vector<std::string> names;
  std::size_t count = 0;
  for (const auto& p : m.parameters()) names.push_back(p.name), count += p.tensor->size();
  EXPECT_EQ(names, (std::vector<std::string>{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight",
                                             "conv3.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
                                             "fc3.weight", "fc3.bias"}));
  EXPECT_EQ(count, 320u + 18496u + 73856u + 66048u + 131328u + 6682u);
  // 6,583,552 FLOP per image in the convolutions and linear layers (multiply-adds count 2).
  double gemm_flops = 0;
  Shape x{1, 1, 28, 28};
  for (std::size_t i = 0; i < m.size(); ++i) {
    const std::string& name = m.layer_name(i);
    if (name.rfind("conv", 0) == 0 || name.rfind("fc", 0) == 0) gemm_flops += m[i].workload(x).flops;
    x = m[i].output_shape(x);
  }
  EXPECT_EQ(gemm_flops, 6583552.0);
  EXPECT_EQ(models::letter_cnn<T>(10).output_shape(Shape{2, 1, 28, 28}), (Shape{2, 10}));
}

TYPED_TEST(LetterCnnTest, InitialisationIsSeededAndScaled) {
  using T = TypeParam;
  Sequential<T> a = models::letter_cnn<T>(26, 7), b = models::letter_cnn<T>(26, 7), c = models::letter_cnn<T>(26, 8);
  const Tensor<T>& wa = a.template get<Conv2d<T>>("conv2").weight();
  EXPECT_TRUE(bitwise<T>(wa, b.template get<Conv2d<T>>("conv2").weight()));
  EXPECT_FALSE(bitwise<T>(wa, c.template get<Conv2d<T>>("conv2").weight()));
  double sq = 0;
  for (T v : wa) sq += double(v) * double(v);
  EXPECT_NEAR(std::sqrt(sq / double(wa.size())), std::sqrt(2.0 / 288.0), 0.01);  // He: std √(2 / fan_in)
  const Tensor<T>& w3 = a.template get<Linear<T>>("fc3").weight();
  const double bound = std::sqrt(6.0 / (256 + 26));  // Xavier-uniform
  for (T v : w3) EXPECT_LE(std::abs(double(v)), bound);

  // PyTorch's default: weights and biases uniform in ±1/√fan_in, std 1/√(3·fan_in).
  Sequential<T> t = models::letter_cnn<T>(26, 7, GeluApproximation::tanh, models::LetterCnnInit::torch_default);
  const Tensor<T>& tw = t.template get<Conv2d<T>>("conv2").weight();
  double tsq = 0;
  for (T v : tw) {
    EXPECT_LE(std::abs(double(v)), 1.0 / std::sqrt(288.0));
    tsq += double(v) * double(v);
  }
  EXPECT_NEAR(std::sqrt(tsq / double(tw.size())), 1.0 / std::sqrt(3.0 * 288.0), 0.002);
  const Tensor<T>& tb = t.template get<Linear<T>>("fc1").bias();
  EXPECT_NE(tb(0), T(0));
  for (T v : tb) EXPECT_LE(std::abs(double(v)), 1.0 / std::sqrt(128.0));
}

TYPED_TEST(LetterCnnTest, MatchesTheReferenceKernels) {
  using T = TypeParam;
  Sequential<T> m = models::letter_cnn<T>(26, 3);
  const Tensor<T> x = random_tensor<T>(Shape{7, 1, 28, 28}, 4, 0, 1);
  EXPECT_TRUE(near<T>(m.forward(x, strategy::Serial{}), reference_forward(m, x), 10 * tolerance<T>()));
}

TYPED_TEST(LetterCnnTest, EveryStrategyAndThreadCountMatchesSequential) {
  using T = TypeParam;
  const Sequential<T> m = models::letter_cnn<T>(26, 5);
  for (std::size_t batch : {1, 7, 64}) {
    const Tensor<T> x = random_tensor<T>(Shape{batch, 1, 28, 28}, batch, 0, 1);
    expect_strategies_match_sequential<T>(m, x);
  }
}

TYPED_TEST(LetterCnnTest, ConcurrentForwardCallsOnOneModel) {
  using T = TypeParam;
  const Sequential<T> m = models::letter_cnn<T>(26, 6);
  const Tensor<T> x = random_tensor<T>(Shape{16, 1, 28, 28}, 6, 0, 1);
  const Tensor<T> expected = m.forward(x, strategy::Serial{});
  const std::vector<Strategy> strategies = all_strategies();
  std::vector<Tensor<T>> results(8);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] {
      Workspace<T> ws;  // each caller its own workspace; the model is shared
      for (int repeat = 0; repeat < 3; ++repeat)
        results[t] = Tensor<T>(m.forward(x, strategies[t % strategies.size()], ws));
    });
  for (auto& th : threads) th.join();
  for (std::size_t t = 0; t < results.size(); ++t)
    EXPECT_TRUE(near<T>(results[t], expected, tolerance<T>())) << strategies[t % strategies.size()].name();
}

// Eight threads share one model; each runs forward hundreds of times under a strategy of its own inside
// an executor's scope of its own (1 to 3 threads, so up to 16 on 2 cores), at batch 1 and 3 in turn. Every
// result has the bits of the single-threaded sequential run.
TEST(LetterCnnStressTest, EightThreadsEachInItsOwnScopeGiveTheSequentialBits) {
  thread_counts();  // lets a 3-thread scope run 3 threads
  const Sequential<float> m = models::letter_cnn<float>(26, 7);
  const Tensor<float> x1 = random_tensor<float>(Shape{1, 1, 28, 28}, 7, 0, 1);
  const Tensor<float> x3 = random_tensor<float>(Shape{3, 1, 28, 28}, 8, 0, 1);
  const Tensor<float> expected1 = m.forward(x1, strategy::Serial{});
  const Tensor<float> expected3 = m.forward(x3, strategy::Serial{});
  const std::vector<Strategy> strategies = all_strategies();
  std::vector<int> mismatches(8, 0);
  finishes_within(std::chrono::seconds(240), "eight threads sharing one model", [&] {
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < mismatches.size(); ++t)
      threads.emplace_back([&, t] {
        const Strategy& s = strategies[(3 * t + 1) % strategies.size()];
        Executor scope(1 + t % 3);
        Workspace<float> ws;
        scope.run([&] {
          for (int repeat = 0; repeat < 200; ++repeat) {
            const bool one = repeat % 2 == 0;
            const Tensor<float> y(m.forward(one ? x1 : x3, s, ws));
            mismatches[t] += !bitwise_equal<float>(y, one ? expected1 : expected3);
          }
        });
      });
    for (auto& th : threads) th.join();
  });
  for (std::size_t t = 0; t < mismatches.size(); ++t)
    EXPECT_EQ(mismatches[t], 0) << strategies[(3 * t + 1) % strategies.size()].name() << " on " << 1 + t % 3
                                << " threads";
}

TEST(LetterCnnBackwardTest, WholeNetworkGradientsMatchFiniteDifferences) {
  Sequential<double> m = models::letter_cnn<double>(10, 4, GeluApproximation::tanh);
  expect_gradients_match_finite_differences(m, random_tensor<double>(Shape{3, 1, 28, 28}, 5, 0, 1), 1e-6, 12);
}

// Each layer's one-core estimate (Workload::one_core_ns, from kernels/cost.hpp) against what it took on
// the reference machine (bench/layers_bench, strategy sequential, 1 thread, Zen 5; µs): within a factor
// of 1.5 wherever the layer takes a microsecond or more, so that Auto weighs the right time against a
// fork-join. The fused stages are the convolutions with their pool and GELU, as forward runs them.
// The whole network on Eigen's GEMM: the same log-probabilities up to rounding, in every strategy.
TEST(LetterCnnTest, EigenGemmGivesTheSameOutputsUpToRounding) {
  const Sequential<float> model = models::letter_cnn<float>(26, 1);
  Sequential<float> eigen = model;
  eigen.use_gemm(kernels::GemmBackend::eigen);
  EXPECT_EQ(eigen.gemm(), kernels::GemmBackend::eigen);
  const Tensor<float> x = random_tensor<float>(Shape{7, 1, 28, 28}, 11);
  const Tensor<float> expected = model.forward(x, strategy::Serial{});
  for (const Strategy& s : all_strategies())
    for (std::size_t threads : {std::size_t(1), std::size_t(2)}) {
      SCOPED_TRACE(s.name() + ", " + std::to_string(threads) + " threads");
      EXPECT_TRUE(near<float>(with_threads(threads, [&] { return eigen.forward(x, s); }), expected, 1e-4));
    }
  const std::string plan = eigen.plan(x.shape(), strategy::Serial{}).describe();
  EXPECT_NE(plan.find("im2col + Eigen's GEMM"), std::string::npos) << plan;
}

TEST(LetterCnnCostTest, EstimatesFollowTheReferenceMeasurements) {
  // The measurements and the default rates are the AVX-512 kernels'; narrower vectors take more of them.
  if (kernels::active_isa() != kernels::Isa::avx512) GTEST_SKIP() << "measured with the AVX-512 kernels";
  const std::map<std::string, std::array<double, 3>> measured{  // batch 1, 16, 64
      {"conv1", {3.56, 56.3, 235}},      {"pool1", {1.22, 24.9, 106}},     {"gelu1", {1.24, 19.5, 79.3}},
      {"conv2", {23.2, 361, 1563}},      {"pool2", {0.95, 16.0, 71.3}},    {"gelu2", {0.40, 5.78, 22.7}},
      {"conv3", {12.9, 112, 501}},       {"pool3", {0.26, 3.60, 14.1}},    {"gelu3", {0.08, 0.51, 1.92}},
      {"flatten", {0.03, 0.08, 0.22}},   {"fc1", {2.03, 21.1, 83.6}},      {"gelu4", {0.16, 1.87, 7.33}},
      {"fc2", {3.91, 22.6, 89.9}},       {"gelu5", {0.10, 1.00, 3.70}},    {"fc3", {0.16, 1.52, 5.82}},
      {"log_softmax", {0.12, 1.24, 4.84}}, {"conv1+", {5.09, 78.4, 327}}, {"conv2+", {21.4, 310, 1328}},
      {"conv3+", {12.8, 60.0, 253}}};
  const Sequential<float> m = models::letter_cnn<float>(26, 1);
  const std::size_t batches[] = {1, 16, 64};
  auto check = [&](const std::string& name, std::size_t b, double estimate_ns) {
    const double us = measured.at(name)[b];
    if (us < 1.0) return;
    EXPECT_GT(estimate_ns / 1e3, us / 1.5) << name << " at batch " << batches[b];
    EXPECT_LT(estimate_ns / 1e3, us * 1.5) << name << " at batch " << batches[b];
  };
  for (std::size_t b = 0; b < 3; ++b) {
    Shape s{batches[b], 1, 28, 28};
    for (const auto& st : planner::stages(m, s, 1))  // the convolutions' fused stages (fc + GELU: the sum)
      if (st.next > st.first + 1 && m.layer_name(st.first).rfind("conv", 0) == 0)
        check(m.layer_name(st.first) + "+", b, st.work.one_core_ns);
    for (std::size_t i = 0; i < m.size(); ++i) {
      check(m.layer_name(i), b, m[i].workload(s).one_core_ns);
      s = m[i].output_shape(s);
    }
  }
  EXPECT_GT(m.workload(Shape{1, 1, 28, 28}).one_core_ns, 0.0);  // every layer gives one: the model sums them
}

// Auto's choices on 2 workers where a layer sits near the fork-join threshold, each the one measured
// fastest on the reference machine (layers_bench, 2 threads against sequential on 1; µs).
TEST(LetterCnnCostTest, AutoCutsOnlyWhatPaysForItsForkJoin) {
  const Sequential<float> m = models::letter_cnn<float>(26, 1);
  auto choice = [&](const std::string& layer, std::size_t batch) {
    Shape s{batch, 1, 28, 28};
    for (std::size_t i = 0; i < m.size(); ++i) {
      if (m.layer_name(i) == layer) return strategy::Auto{}.choose(m[i].workload(s), 2).strategy;
      s = m[i].output_shape(s);
    }
    return std::string("no such layer");
  };
  EXPECT_EQ(choice("gelu4", 16), "serial");   // 1.8 alone, 2.0 by images
  EXPECT_EQ(choice("gelu3", 64), "serial");   // 1.9, 2.0
  EXPECT_EQ(choice("gelu5", 64), "batch");        // 3.7, 2.9
  EXPECT_EQ(choice("log_softmax", 16), "serial");  // 1.3, 1.7
  EXPECT_EQ(choice("log_softmax", 64), "batch");  // 4.9, 3.6
  EXPECT_EQ(choice("pool3", 16), "batch");        // 3.6, 2.9 (one window per map: scalar)
  EXPECT_EQ(choice("fc3", 16), "serial");     // 1.5, 1.9
  EXPECT_EQ(choice("flatten", 256), "serial");  // 1.0, 1.6
  EXPECT_EQ(choice("fc1", 1), "serial");      // 2.0, by channel 2.0 to 2.1
  EXPECT_EQ(choice("fc2", 1), "channel");         // 3.9, 2.8
  EXPECT_EQ(choice("conv1", 1), "channel");       // 3.5; by channel 2.9, by rows 3.3 (direct kernel)
  EXPECT_EQ(choice("conv3", 1), "channel");       // 12.1, 8.5 (each channel block builds its columns)
  EXPECT_EQ(choice("conv2", 1), "channel");       // 22.0; by channel 14.6, by rows 15.5
  // At batch 1 the stages of conv1 and conv2 are cut by channel and stay fused (conv1 + pool1 + gelu1
  // 4.1 µs, 5.1 on one worker; conv2 + pool2 + gelu2 13.4, 20.0 on one worker).
  kernels::PostOps e;
  EXPECT_EQ(planner::forward_stage(m, 0, Shape{1, 1, 28, 28}, e, 2), 3u);
  EXPECT_EQ(planner::forward_stage(m, 3, Shape{1, 32, 13, 13}, e, 2), 6u);
}

// At batch 1 the model runs layer by layer in a team, whose hand-off costs less than a fork-join
// (Auto::in_team): there fc1 (2.0 µs alone) is cut, as it is not on its own (above); its plan says so.
TEST(LetterCnnCostTest, ALayerByLayerPassDecidesAsItsTeam) {
  const Sequential<float> m = models::letter_cnn<float>(26, 1);
  const Shape in{1, 1, 28, 28};
  const std::string plan = m.plan(in, Strategy(), Pass::inference, ExecutorProfile(2)).describe();
  EXPECT_NE(plan.find("kept in a team"), std::string::npos) << plan;
  const std::size_t fc1 = plan.find("\nfc1 ");
  ASSERT_NE(fc1, std::string::npos) << plan;
  const std::string line = plan.substr(fc1 + 1, plan.find('\n', fc1 + 1) - fc1 - 1);
  EXPECT_NE(line.find("channel"), std::string::npos) << line;
  // With one worker there is no team, and nothing to cut.
  EXPECT_EQ(m.plan(in, Strategy(), Pass::inference, ExecutorProfile(1)).describe().find("channel"), std::string::npos);
}

}  // namespace
}  // namespace parcnn::test
