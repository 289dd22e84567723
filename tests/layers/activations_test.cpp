// LeakyReLU, Sigmoid and Tanh (element-wise layers) against their formulas in long double on every rank,
// under every strategy; their backward passes against finite differences; as post-ops of the layer
// before them; their plan-file keys.
#include <parcnn/layers/activations.hpp>
#include <parcnn/layers/conv2d.hpp>
#include <parcnn/layers/linear.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class ActivationsTest : public ::testing::Test {};
TYPED_TEST_SUITE(ActivationsTest, Scalars);

struct Function {
  std::function<std::unique_ptr<Layer<float>>()> f32;
  std::function<std::unique_ptr<Layer<double>>()> f64;
  std::function<long double(long double)> reference;
  std::string name;
};

std::vector<Function> functions() {
  return {
      {[] { return std::make_unique<LeakyReLU<float>>(); }, [] { return std::make_unique<LeakyReLU<double>>(); },
       [](long double x) { return x > 0 ? x : x * 0.01L; }, "LeakyReLU(0.01)"},
      {[] { return std::make_unique<LeakyReLU<float>>(0.2); }, [] { return std::make_unique<LeakyReLU<double>>(0.2); },
       [](long double x) { return x > 0 ? x : x * 0.2L; }, "LeakyReLU(0.2)"},
      {[] { return std::make_unique<Sigmoid<float>>(); }, [] { return std::make_unique<Sigmoid<double>>(); },
       [](long double x) { return 1 / (1 + std::exp(-x)); }, "Sigmoid"},
      {[] { return std::make_unique<Tanh<float>>(); }, [] { return std::make_unique<Tanh<double>>(); },
       [](long double x) { return std::tanh(x); }, "Tanh"},
  };
}

template <class T>
std::unique_ptr<Layer<T>> make(const Function& f) {
  if constexpr (std::is_same_v<T, float>) return f.f32();
  else return f.f64();
}

TYPED_TEST(ActivationsTest, MatchTheirFormulasOnEveryRankAndStrategy) {
  using T = TypeParam;
  const double ulps = 4;  // libm's exp and tanh, an add and a division
  for (const Function& f : functions()) {
    const std::unique_ptr<Layer<T>> layer = make<T>(f);
    EXPECT_EQ(layer->name(), f.name);
    for (const Shape& shape : {Shape{37}, Shape{7, 13}, Shape{3, 5, 9}, Shape{7, 5, 13, 13}, Shape{1, 17, 3, 26}}) {
      Tensor<T> x = random_tensor<T>(shape, 3, -6, 6);
      x.data()[1] = std::numeric_limits<T>::quiet_NaN();
      x.data()[2] = T(0);
      x.data()[3] = -std::numeric_limits<T>::infinity();
      x.data()[4] = std::numeric_limits<T>::infinity();
      x.data()[5] = T(-800);
      x.data()[6] = T(1e-30);
      const Tensor<T> y = layer->forward(x);
      ASSERT_EQ(y.shape(), shape);
      for (std::size_t i = 0; i < x.size(); ++i) {
        const long double e = f.reference(x.data()[i]);
        const T v = y.data()[i];
        if (std::isnan(e)) {
          EXPECT_TRUE(std::isnan(v)) << f.name << "(" << x.data()[i] << ")";
        } else if (std::isinf(e)) {
          EXPECT_EQ(v, e) << f.name << "(" << x.data()[i] << ")";
        } else {
          const long double tol = ulps * std::numeric_limits<T>::epsilon() * std::max<long double>(std::abs(e), 1e-30L);
          EXPECT_LE(std::abs(v - e), tol) << f.name << "(" << x.data()[i] << ") = " << v << ", expected " << double(e);
        }
      }
      expect_strategies_match_sequential<T>(*layer, x);
    }
  }
}

TEST(ActivationsBackwardTest, GradientsMatchFiniteDifferences) {
  Tensor<double> x = random_tensor<double>(Shape{3, 4, 5, 3}, 2, 0.05, 3);  // away from LeakyReLU's kink
  for (std::size_t i = 0; i < x.size(); i += 2) x.data()[i] = -x.data()[i];
  for (const Function& f : functions()) {
    SCOPED_TRACE(f.name);
    const std::unique_ptr<Layer<double>> layer = f.f64();
    expect_gradients_match_finite_differences(*layer, x);
  }
}

TEST(ActivationsBackwardTest, LeakyReluPassesSlopeTimesTheGradientAtAndBelowZero) {
  const Tensor<float> g(Shape{4}, 2.0f);
  Tensor<float> dx(Shape{4});
  Workspace<float> ws;
  const LeakyReLU<float> leaky(0.25);
  Tensor<float> xs(Shape{4});
  xs.data()[0] = -1, xs.data()[1] = 0, xs.data()[2] = 1, xs.data()[3] = -0.0f;
  leaky.backward(xs, leaky.forward(xs), g, dx, {}, ws);
  EXPECT_EQ(dx.data()[0], 0.5f);
  EXPECT_EQ(dx.data()[1], 0.5f);
  EXPECT_EQ(dx.data()[2], 2.0f);
  EXPECT_EQ(dx.data()[3], 0.5f);
}

// A convolution and a Linear layer run them as post-ops: the bits of the layers run apart.
TYPED_TEST(ActivationsTest, RunAsPostOpsWithTheBitsOfTheLayersApart) {
  using T = TypeParam;
  Conv2d<T> conv(3, 5, 3, 1, 1);
  Linear<T> fc(19, 11);
  const Tensor<T> maps = random_tensor<T>(Shape{7, 3, 9, 11}, 4), rows = random_tensor<T>(Shape{7, 19}, 3);
  for (const Function& f : functions()) {
    const std::unique_ptr<Layer<T>> act = make<T>(f);
    const kernels::PostOps ops{*act->as_post_op(maps.shape())};
    for (const auto& input : {std::pair<const Layer<T>*, const Tensor<T>*>{&conv, &maps}, {&fc, &rows}}) {
      const Layer<T>* layer = input.first;
      const Tensor<T>* x = input.second;
      SCOPED_TRACE(layer->name() + " + " + ops.str());
      const Tensor<T> expected = act->forward(layer->forward(*x, strategy::Serial{}), strategy::Serial{});
      for (const Strategy& s : all_strategies())
        for (std::size_t threads : thread_counts()) {
          Tensor<T> y(expected.shape());
          Workspace<T> ws;
          Executor(threads).run([&] { layer->forward_fused(*x, y.view(), ops, s, ws); });
          EXPECT_TRUE(bitwise<T>(y, expected)) << s.name() << ", " << threads << " threads";
        }
    }
  }
}

TEST(ActivationsTest, KeysRoundTripTheSlopeToTheLastBit) {
  using K = kernels::PostOp::Kind;
  for (double slope : {0.01, 0.2, 1.0 / 3.0, -0.5, 0.0}) {
    const kernels::PostOp op{K::leaky_relu, slope};
    const auto back = kernels::PostOp::from_key(op.key());
    ASSERT_TRUE(back) << op.key();
    EXPECT_EQ(*back, op) << op.key();
  }
  EXPECT_EQ(kernels::PostOp({K::leaky_relu, 0.01}).key(), "leaky_relu(0.01)");
  for (K k : {K::sigmoid, K::tanh}) EXPECT_EQ(kernels::PostOp::from_key(kernels::PostOp{k}.key()), kernels::PostOp{k});
  for (const char* bad : {"leaky_relu()", "leaky_relu(0.1", "leaky_relu(x)", "leaky_relu(0.1x)", "leaky_relu(inf)", "tanh2"})
    EXPECT_FALSE(kernels::PostOp::from_key(bad)) << bad;
  EXPECT_NE(kernels::PostOp({K::leaky_relu, 0.1}), kernels::PostOp({K::leaky_relu, 0.2}));
  expect_throw_with<ConfigError>([] { LeakyReLU<float>(std::nan("")); }, {"LeakyReLU", "finite"});
}

}  // namespace
}  // namespace parcnn::test
