// Residual: body(x) + shortcut(x) against the branches run apart, with the identity and with a
// projection; every strategy and thread count, inside a model too (depth-first and fused); backward
// against finite differences; parameter names; a ResNet-style model trains to the same bits on 1, 2 and
// 3 threads.
#include <parcnn/layers/residual.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

// ReLU, or Tanh where finite differences must not cross a kink.
template <class T>
std::unique_ptr<Layer<T>> activation(bool smooth) {
  if (smooth) return std::make_unique<Tanh<T>>();
  return std::make_unique<ReLU<T>>();
}

template <class T>
Sequential<T> body(std::size_t in_c, std::size_t out_c, std::size_t stride, bool norm, bool smooth = false) {
  Sequential<T> b;
  b.add("conv1", Conv2d<T>(in_c, out_c, 3, stride, 1, !norm));
  if (norm) b.add("bn1", BatchNorm2d<T>(out_c));
  b.add("relu", activation<T>(smooth)).add("conv2", Conv2d<T>(out_c, out_c, 3, 1, 1, !norm));
  if (norm) b.add("bn2", BatchNorm2d<T>(out_c));
  return b;
}

template <class T>
Sequential<T> projection(std::size_t in_c, std::size_t out_c, std::size_t stride, bool norm) {
  Sequential<T> p;
  p.add("0", Conv2d<T>(in_c, out_c, 1, stride, 0, !norm));
  if (norm) p.add("1", BatchNorm2d<T>(out_c));
  return p;
}

template <class T>
class ResidualTest : public ::testing::Test {};
TYPED_TEST_SUITE(ResidualTest, Scalars);

TYPED_TEST(ResidualTest, IsTheSumOfItsBranchesUnderEveryStrategy) {
  using T = TypeParam;
  manual_seed(1);
  const Residual<T> identity(body<T>(5, 5, 1, false));
  const Residual<T> projected(body<T>(5, 6, 2, false), projection<T>(5, 6, 2, false));
  EXPECT_EQ(identity.name(), "Residual(3 layers)");
  EXPECT_EQ(projected.name(), "Residual(3 layers, shortcut of 1)");
  for (const Shape& shape : {Shape{1, 5, 7, 9}, Shape{7, 5, 6, 5}}) {
    const Tensor<T> x = random_tensor<T>(shape, 4);
    for (const Residual<T>* r : {&identity, &projected}) {
      SCOPED_TRACE(r->name() + " on " + shape.str());
      Tensor<T> expected = r->body().forward(x, strategy::Serial{});
      const Tensor<T> s = r->shortcut().size() ? r->shortcut().forward(x, strategy::Serial{}) : Tensor<T>(x.view());
      for (std::size_t i = 0; i < expected.size(); ++i) expected.data()[i] += s.data()[i];
      EXPECT_TRUE(bitwise<T>(r->forward(x, strategy::Serial{}), expected));
      expect_strategies_match_sequential<T>(*r, x);
    }
  }
}

// In a model: a stem, two blocks (the first projecting) each followed by ReLU (a post-op of the block
// in inference), global pooling and a classifier; the same bits under every strategy, thread count and
// depth-first or not.
template <class T>
Sequential<T> resnet_like(bool norm, bool smooth = false) {
  Sequential<T> m;
  m.add("conv1", Conv2d<T>(3, 4, 3, 1, 1)).add("relu1", activation<T>(smooth));
  m.add("block1", Residual<T>(body<T>(4, 6, 2, norm, smooth), projection<T>(4, 6, 2, norm)))
      .add("relu2", activation<T>(smooth));
  m.add("block2", Residual<T>(body<T>(6, 6, 1, norm, smooth))).add("relu3", activation<T>(smooth));
  m.add("pool", AdaptiveAvgPool2d<T>(1)).add("flatten", Flatten<T>()).add("fc", Linear<T>(6, 5));
  return m;
}

TYPED_TEST(ResidualTest, AModelOfBlocksGivesTheSameBitsEverywhere) {
  using T = TypeParam;
  manual_seed(2);
  Sequential<T> m = resnet_like<T>(true);
  for (auto& b : m.buffers())
    if (b.name.find("running_var") != std::string::npos) fill_uniform<T>(*b.tensor, 0.5, 2, 3);
  const Tensor<T> x = random_tensor<T>(Shape{7, 3, 9, 8}, 5);
  expect_strategies_match_sequential<T>(m, x);
  const Tensor<T> reference = m.forward(x, strategy::Serial{});
  Workspace<T> ws;
  m.fuse_post_ops(false);
  EXPECT_TRUE(bitwise<T>(Tensor<T>(m.forward(x, strategy::Serial{}, ws)), reference)) << "unfused";
}

TEST(ResidualNamesTest, BodyUnderItsOwnNamesShortcutUnderShortcut) {
  Sequential<float> m = resnet_like<float>(true);
  std::vector<std::string> names;
  for (const auto& p : m.parameters()) names.push_back(p.name);
  EXPECT_EQ(names[2], "block1.conv1.weight");
  EXPECT_EQ(names[3], "block1.bn1.weight");
  EXPECT_EQ(names[8], "block1.shortcut.0.weight");
  EXPECT_EQ(names[9], "block1.shortcut.1.weight");
  EXPECT_EQ(m.parameter_shapes().size(), names.size());
  std::vector<std::string> buffers;
  for (const auto& b : m.buffers()) buffers.push_back(b.name);
  EXPECT_EQ(buffers[0], "block1.bn1.running_mean");
  EXPECT_EQ(buffers[6], "block1.shortcut.1.running_mean");
  EXPECT_TRUE(m.couples_images());
  m.eval();
  EXPECT_FALSE(m.couples_images());
  EXPECT_FALSE(m.get<Residual<float>>("block1").shortcut()[1].training());
}

TEST(ResidualBackwardTest, GradientsMatchFiniteDifferences) {
  manual_seed(3);
  Residual<double> identity(body<double>(3, 3, 1, false));
  expect_gradients_match_finite_differences(identity, random_tensor<double>(Shape{3, 3, 5, 4}, 2));
  Residual<double> projected(body<double>(3, 4, 2, true), projection<double>(3, 4, 2, true));
  expect_gradients_match_finite_differences(projected, random_tensor<double>(Shape{3, 3, 6, 5}, 3));
  Sequential<double> m = resnet_like<double>(true, /*smooth=*/true);
  expect_gradients_match_finite_differences(m, random_tensor<double>(Shape{3, 3, 6, 6}, 4), 1e-6, 12);
}

TEST(ResidualTest, BranchesMustAgreeInShape) {
  const Residual<float> r(body<float>(4, 6, 2, false));
  expect_throw_with([&] { r.forward(Tensor<float>(Shape{1, 4, 8, 8})); },
                    {"Residual(3 layers)", "the body gives [1, 6, 4, 4] and the shortcut [1, 4, 8, 8]", "projection"});
  expect_throw_with([&] { r.forward(Tensor<float>(Shape{1, 3, 8, 8})); }, {"Residual body", "conv1"});
}

// Training a model with BatchNorm runs layer by layer over the whole batch (its statistics couple the
// images), and its weights and running statistics are the same bits on 1, 2 and 3 threads.
TEST(ResidualTrainingTest, WeightsAndRunningStatisticsAreTheSameBitsOnEveryThreadCount) {
  auto train = [](std::size_t threads) {
    return Executor(threads).run([&] {
      manual_seed(4);
      Sequential<float> model = resnet_like<float>(true);
      model.add("log_softmax", LogSoftmax<float>());
      Parameters<float> params(model);
      SGD<float> sgd(params.all(), SgdOptions{0.05, 0.9});
      Trainer<float> trainer(model, params, sgd, TrainerOptions{strategy::Auto{}, 4});
      for (std::size_t s = 0; s < 3; ++s) {
        const Tensor<float> x = random_tensor<float>(Shape{9, 3, 8, 8}, 10 + s);
        std::vector<std::size_t> labels(9);
        for (std::size_t n = 0; n < 9; ++n) labels[n] = (n + s) % 5;
        trainer.step(x, labels);
      }
      std::vector<Tensor<float>> state;
      for (auto& p : model.parameters()) state.emplace_back(p.tensor->view());
      for (auto& b : model.buffers()) state.emplace_back(b.tensor->view());
      return state;
    });
  };
  const std::vector<Tensor<float>> one = train(1);
  for (std::size_t threads : thread_counts()) {
    const std::vector<Tensor<float>> other = train(threads);
    for (std::size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(bitwise<float>(other[i], one[i])) << threads << " threads, " << i;
  }
  EXPECT_EQ(one.back().data()[0], 3.0f);  // num_batches_tracked of the last BatchNorm
}

}  // namespace
}  // namespace parcnn::test
