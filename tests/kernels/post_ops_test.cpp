// Post-op lists: building, names and keys, the shapes they make, their element-wise kernels and their
// capacity.
#include <parcnn/kernels/post_ops.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

using K = kernels::PostOp::Kind;

TEST(PostOpsTest, NamesShapesAndKeys) {
  const kernels::PostOps none, pool_gelu{{K::max_pool_2x2}, {K::gelu_tanh}}, relu{{K::relu}};
  EXPECT_EQ(none.str(), "none");
  EXPECT_EQ(pool_gelu.str(), "2x2 max pool + GELU(tanh)");
  EXPECT_TRUE(pool_gelu.pools() && pool_gelu.has_elementwise() && pool_gelu.elementwise_from(1));
  EXPECT_FALSE(pool_gelu.elementwise_from(0));
  EXPECT_EQ(pool_gelu.reduction(), 2u);
  EXPECT_FALSE(relu.pools());
  EXPECT_EQ(relu.reduction(), 1u);
  EXPECT_EQ(pool_gelu.output_shape(Shape{2, 3, 11, 8}), (Shape{2, 3, 5, 4}));
  EXPECT_EQ(relu.output_shape(Shape{2, 7}), (Shape{2, 7}));
  expect_throw_with([&] { pool_gelu.output_shape(Shape{2, 3, 1, 8}); }, {"2x2 max pool", "got [2, 3, 1, 8]"});
  expect_throw_with([&] { pool_gelu.output_shape(Shape{2, 7}); }, {"2x2 max pool", "got [2, 7]"});
  for (K k : {K::max_pool_2x2, K::gelu, K::gelu_tanh, K::relu}) {
    const auto back = kernels::PostOp::from_key(kernels::PostOp{k}.key());
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->kind, k);
  }
  EXPECT_FALSE(kernels::PostOp::from_key("swish").has_value());
  EXPECT_NE(pool_gelu, (kernels::PostOps{{K::max_pool_2x2}, {K::gelu}}));
  EXPECT_EQ(pool_gelu, (kernels::PostOps{{K::max_pool_2x2}, {K::gelu_tanh}}));
}

TEST(PostOpsTest, HoldAtMostTheirCapacity) {
  kernels::PostOps e;
  for (std::size_t i = 0; i < kernels::PostOps::capacity; ++i) e = e.then({K::relu});
  EXPECT_TRUE(e.full());
  expect_throw_with<ConfigError>([&] { e.then({K::gelu}); }, {"at most 4"});
}

// The element-wise ones in order, the pool skipped; each the kernel of its layer, in place or apart.
TEST(PostOpsTest, ApplyTheElementwiseKernelsInOrder) {
  const Tensor<float> x = random_tensor<float>(Shape{53}, 1, -3, 3);
  Tensor<float> expected(x.shape()), y(x.shape());
  kernels::relu(x.data(), expected.data(), x.size());
  kernels::gelu(GeluApproximation::tanh, expected.data(), expected.data(), x.size());
  kernels::apply_elementwise_post_ops(kernels::PostOps{{K::max_pool_2x2}, {K::relu}, {K::gelu_tanh}}, x.data(), y.data(), x.size());
  EXPECT_TRUE(bitwise<float>(y, expected));
  Tensor<float> z = x;
  kernels::apply_elementwise_post_ops(kernels::PostOps{{K::relu}, {K::gelu_tanh}}, z.data(), z.data(), z.size());
  EXPECT_TRUE(bitwise<float>(z, expected));
  expect_throw_with<ConfigError>([&] { kernels::apply_post_op(kernels::PostOp{K::max_pool_2x2}, x.data(), y.data(), 1); },
                                 {"not element-wise"});
}

}  // namespace
}  // namespace parcnn::test
