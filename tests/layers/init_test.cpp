// The initialisers against torch.nn.init's formulas (bounds, spread), applying them by name, and the
// layers' default initialisation: PyTorch's, seeded, reproducible.
#include <parcnn/layers/conv2d.hpp>
#include <parcnn/layers/init.hpp>
#include <parcnn/layers/linear.hpp>
#include <parcnn/layers/sequential.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

struct Moments {
  double min = INFINITY, max = -INFINITY, mean = 0, stddev = 0;
};
template <class T>
Moments moments(TensorView<const T> t) {
  Moments m;
  for (T v : t) m.min = std::min<double>(m.min, v), m.max = std::max<double>(m.max, v), m.mean += v;
  m.mean /= double(t.size());
  for (T v : t) m.stddev += (v - m.mean) * (v - m.mean);
  m.stddev = std::sqrt(m.stddev / double(t.size()));
  return m;
}

TEST(InitTest, FansFollowPyTorch) {
  EXPECT_EQ(init::fans(Shape{64, 32, 3, 3}).in, 288u);
  EXPECT_EQ(init::fans(Shape{64, 32, 3, 3}).out, 576u);
  EXPECT_EQ(init::fans(Shape{26, 256}).in, 256u);
  EXPECT_EQ(init::fans(Shape{26, 256}).out, 26u);
  expect_throw_with<ConfigError>([] { init::fans(Shape{26}); }, {"at least 2 dimensions", "[26]"});
  EXPECT_DOUBLE_EQ(init::gain(init::Nonlinearity::relu), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init::gain(init::Nonlinearity::tanh), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(init::gain(init::Nonlinearity::leaky_relu, std::sqrt(5.0)), std::sqrt(1.0 / 3.0));
  EXPECT_DOUBLE_EQ(init::gain(init::Nonlinearity::sigmoid), 1.0);
}

// Bounds exactly as torch.nn.init computes them; the spread of 200k draws within 1 % of the formula.
TEST(InitTest, EachInitialiserHasPyTorchsBoundsAndSpread) {
  Tensor<double> w(Shape{500, 100, 2, 2});  // fan_in 400, fan_out 2000
  const double fan_in = 400, fan_out = 2000;
  struct Case {
    std::string what;
    std::function<void(TensorView<double>)> run;
    double bound, stddev;  // bound 0: unbounded (normal)
  };
  const std::vector<Case> cases{
      {"kaiming_uniform", [](auto t) { init::KaimingUniform{}(t, 1); }, std::sqrt(6.0 / fan_in), std::sqrt(2.0 / fan_in)},
      {"kaiming_uniform a=sqrt5", [](auto t) { init::KaimingUniform{std::sqrt(5.0)}(t, 1); }, 1 / std::sqrt(fan_in),
       1 / std::sqrt(3 * fan_in)},
      {"kaiming_normal fan_out relu",
       [](auto t) { init::KaimingNormal{0, init::FanMode::fan_out, init::Nonlinearity::relu}(t, 2); }, 0,
       std::sqrt(2.0 / fan_out)},
      {"xavier_uniform", [](auto t) { init::XavierUniform{}(t, 3); }, std::sqrt(6.0 / (fan_in + fan_out)),
       std::sqrt(2.0 / (fan_in + fan_out))},
      {"xavier_normal gain 2", [](auto t) { init::XavierNormal{2}(t, 4); }, 0, 2 * std::sqrt(2.0 / (fan_in + fan_out))},
      {"uniform", [](auto t) { init::Uniform{-3, 3}(t, 5); }, 3, std::sqrt(3.0)},
      {"normal", [](auto t) { init::Normal{0, 0.5}(t, 6); }, 0, 0.5},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    c.run(w.view());
    const Moments m = moments<double>(w);
    if (c.bound > 0) {
      EXPECT_GE(m.min, -c.bound);
      EXPECT_LT(m.max, c.bound);
      EXPECT_GT(m.max, 0.99 * c.bound);  // reaches the bounds it should
    }
    EXPECT_NEAR(m.mean, 0, 0.01 * c.stddev * 10);
    EXPECT_NEAR(m.stddev, c.stddev, 0.01 * c.stddev);
  }
  init::Constant{0.25}(w.view());
  EXPECT_EQ(moments<double>(w).min, 0.25);
  EXPECT_EQ(moments<double>(w).max, 0.25);
  init::Zeros{}(w.view());
  EXPECT_EQ(moments<double>(w).max, 0.0);
}

// PyTorch's default: the weight (Kaiming-uniform, a = √5) and the bias both in ±1/√fan_in, filling it.
TEST(InitTest, LayersStartFromPyTorchsDefault) {
  const Conv2d<float> conv(5, 7, 3);
  const Linear<float> fc(33, 9);
  struct Case {
    const Tensor<float>* weight;
    const Tensor<float>* bias;
    double fan_in;
  };
  for (const Case& c : {Case{&conv.weight(), &conv.bias(), 45}, Case{&fc.weight(), &fc.bias(), 33}})
    for (const Tensor<float>* t : {c.weight, c.bias}) {
      const Moments m = moments<float>(*t);
      const double bound = 1 / std::sqrt(c.fan_in);
      EXPECT_GE(m.min, -bound);
      EXPECT_LT(m.max, bound);
      EXPECT_GT(m.max - m.min, bound);  // spread over the range, not zero
    }
}

TEST(InitTest, ManualSeedMakesTheSameLayersAgainAndEachLayerDiffers) {
  manual_seed(11);
  const Conv2d<float> a(3, 4, 3), b(3, 4, 3);
  const Linear<double> c(10, 5);
  manual_seed(11);
  const Conv2d<float> a2(3, 4, 3), b2(3, 4, 3);
  const Linear<double> c2(10, 5);
  EXPECT_TRUE(bitwise<float>(a.weight(), a2.weight()));
  EXPECT_TRUE(bitwise<float>(b.bias(), b2.bias()));
  EXPECT_TRUE(bitwise<double>(c.weight(), c2.weight()));
  EXPECT_FALSE(bitwise<float>(a.weight(), b.weight()));
  manual_seed(12);
  EXPECT_FALSE(bitwise<float>(Conv2d<float>(3, 4, 3).weight(), a.weight()));
}

Sequential<float> two_layer_model() {
  Sequential<float> m;
  m.add("conv1", Conv2d<float>(2, 3, 3)).add("fc", Linear<float>(12, 4)).add("conv2", Conv2d<float>(2, 3, 3, 1, 0, false));
  return m;
}

// One seed makes the model's parameters; each layer's from its name, so adding layers changes no other.
TEST(InitTest, ResetParametersOfAModelIsSeededPerLayerName) {
  Sequential<float> m = two_layer_model(), n = two_layer_model();
  m.reset_parameters(3);
  n.reset_parameters(3);
  for (std::size_t i = 0; i < m.parameters().size(); ++i)
    EXPECT_TRUE(bitwise<float>(*m.parameters()[i].tensor, *n.parameters()[i].tensor)) << m.parameters()[i].name;
  Sequential<float> one;
  one.add("conv2", Conv2d<float>(2, 3, 3, 1, 0, false));
  one.reset_parameters(3);
  EXPECT_TRUE(bitwise<float>(one.get<Conv2d<float>>("conv2").weight(), m.get<Conv2d<float>>("conv2").weight()));
  EXPECT_FALSE(bitwise<float>(m.get<Conv2d<float>>("conv1").weight(), m.get<Conv2d<float>>("conv2").weight()));
  n.reset_parameters(4);
  EXPECT_FALSE(bitwise<float>(m.get<Conv2d<float>>("conv1").weight(), n.get<Conv2d<float>>("conv1").weight()));
}

TEST(InitTest, PatternsSelectByWholeNameParts) {
  EXPECT_TRUE(init::selects("*", "conv1.weight"));
  EXPECT_TRUE(init::selects("conv1.weight", "conv1.weight"));
  EXPECT_TRUE(init::selects("weight", "conv1.weight"));
  EXPECT_TRUE(init::selects("conv.weight", "block1.conv.weight"));
  EXPECT_TRUE(init::selects("conv1", "conv1.bias"));
  EXPECT_TRUE(init::selects("block1", "block1.conv.weight"));
  EXPECT_FALSE(init::selects("conv", "conv1.weight"));
  EXPECT_FALSE(init::selects("eight", "conv1.weight"));
  EXPECT_FALSE(init::selects("", "conv1.weight"));
  EXPECT_FALSE(init::selects("conv1.weight.x", "conv1.weight"));
}

TEST(InitTest, ApplyByNameInitialisesWhatItSelectsWithSeedsOfTheirNames) {
  Sequential<float> m = two_layer_model();
  const Tensor<float> fc_before(m.get<Linear<float>>("fc").weight().view());
  EXPECT_EQ(init::apply(m, "conv1", init::Constant{0.5}), 2u);
  EXPECT_EQ(moments<float>(m.get<Conv2d<float>>("conv1").bias()).min, 0.5);
  EXPECT_EQ(init::apply(m, "bias", init::Zeros{}), 2u);  // conv2 has none
  EXPECT_EQ(moments<float>(m.get<Linear<float>>("fc").bias()).max, 0.0);
  EXPECT_TRUE(bitwise<float>(m.get<Linear<float>>("fc").weight(), fc_before));
  EXPECT_EQ(init::apply(m, "weight", init::XavierUniform{}, 9), 3u);
  // The same values as initialising one parameter alone with the same seed.
  Sequential<float> n = two_layer_model();
  init::apply(n, "conv2.weight", init::XavierUniform{}, 9);
  EXPECT_TRUE(bitwise<float>(m.get<Conv2d<float>>("conv2").weight(), n.get<Conv2d<float>>("conv2").weight()));
  expect_throw_with<ConfigError>([&] { init::apply(m, "conv3", init::Zeros{}); },
                                 {"no parameter is selected by 'conv3'", "conv1.weight, conv1.bias, fc.weight"});
  expect_throw_with<ConfigError>([&] { init::apply(m, "bias", init::XavierUniform{}); },
                                 {"conv1.bias", "at least 2 dimensions"});
}

}  // namespace
}  // namespace parcnn::test
