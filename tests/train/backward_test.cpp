// backward(model, x, grad_out, params, ws): the model's gradients in one call — those of the layers'
// own backward passes, accumulated across calls, the same bits on 1, 2 and 3 threads; and its errors.
#include <parcnn/train/backward.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

Sequential<double> model_of_three() {
  manual_seed(21);
  Sequential<double> m;
  m.add("conv", Conv2d<double>(2, 3, 3, 1, 1)).add("relu", ReLU<double>()).add("pool", AvgPool2d<double>(2));
  m.add("flat", Flatten<double>()).add("fc", Linear<double>(3 * 3 * 3, 4));
  return m;
}

TEST(BackwardTest, GivesTheLayersGradientsAccumulatedAndTheSameBitsOnEveryThreadCount) {
  Sequential<double> m = model_of_three();
  const Tensor<double> x = random_tensor<double>(Shape{5, 2, 7, 6}, 1);
  const Tensor<double> g = random_tensor<double>(Shape{5, 4}, 2);
  const std::vector<Tensor<double>> expected = run_backward(m, x, g, 16);  // input gradient, then parameters'
  Parameters<double> params(m);
  std::vector<Tensor<double>> first;
  for (std::size_t threads : thread_counts()) {
    Executor(threads).run([&] {
      Workspace<double> ws;
      m.forward_for_backward(x, strategy::Auto{}, ws);
      params.zero_grad();
      backward(m, x, g, params, ws);
    });
    for (std::size_t p = 0; p < params.size(); ++p) {
      EXPECT_TRUE(bitwise<double>(params[p].grad, expected[p + 1])) << params[p].name << ", " << threads << " threads";
      if (first.size() < params.size()) first.push_back(params[p].grad);
    }
  }
  Workspace<double> ws;
  m.forward_for_backward(x, strategy::Serial{}, ws);
  backward(m, x, g, params, ws);  // adds
  for (std::size_t p = 0; p < params.size(); ++p)
    for (std::size_t i = 0; i < first[p].size(); ++i) EXPECT_EQ(params[p].grad.data()[i], 2 * first[p].data()[i]);
}

TEST(BackwardTest, NeedsTheForwardAndTheModelsOwnParameters) {
  Sequential<double> m = model_of_three(), other = model_of_three();
  Parameters<double> params(m), others(other);
  const Tensor<double> x = random_tensor<double>(Shape{2, 2, 7, 6}, 1), g(Shape{2, 4});
  Workspace<double> ws;
  expect_throw_with<ConfigError>([&] { backward(m, x, g, params, ws); },
                                 {"no output of forward_for_backward", "[2, 2, 7, 6]"});
  m.forward_for_backward(x, strategy::Serial{}, ws);
  expect_throw_with<ConfigError>([&] { backward(m, x, g, others, ws); }, {"belong to another model"});
  expect_throw_with([&] { backward(m, x, Tensor<double>(Shape{2, 5}), params, ws); }, {"[2, 5]"});
}

}  // namespace
}  // namespace parcnn::test
