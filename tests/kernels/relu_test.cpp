// The ReLU kernels against their definition: NaN kept, -0 and 0 to a zero, the gradient only where x > 0.
#include <parcnn/kernels/relu.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(ReluKernelTest, ForwardAndBackwardFollowTheDefinition) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x{-2.5f, -0.0f, 0.0f, 1e-30f, 3.0f, inf, -inf, nan};
  std::vector<float> y(x.size()), dx(x.size());
  const std::vector<float> dy(x.size(), 2.0f);
  kernels::relu(x.data(), y.data(), x.size());
  const std::vector<float> expected{0.0f, -0.0f, 0.0f, 1e-30f, 3.0f, inf, 0.0f};
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(y[i], expected[i]) << "x = " << x[i];
  EXPECT_TRUE(std::isnan(y.back()));
  kernels::relu_backward(x.data(), dy.data(), dx.data(), x.size());
  const std::vector<float> grads{0, 0, 0, 2, 2, 2, 0, 0};
  EXPECT_EQ(dx, grads);
  // In place.
  std::vector<float> z = x;
  kernels::relu(z.data(), z.data(), z.size());
  for (std::size_t i = 0; i + 1 < z.size(); ++i) EXPECT_EQ(z[i], y[i]);
}

}  // namespace
}  // namespace parcnn::test
