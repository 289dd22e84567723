// The convolution kernels: images stacked in one GEMM give the bits of one image at a time.
#include <parcnn/kernels/conv2d.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

kernels::Conv2dGeometry geometry() {
  kernels::Conv2dGeometry g;
  g.in_c = 5, g.in_h = 7, g.in_w = 6, g.out_c = 9, g.k_h = 3, g.k_w = 2, g.pad_h = 1;
  g.out_h = (g.in_h + 2 * g.pad_h - g.k_h) / g.stride_h + 1;
  g.out_w = (g.in_w + 2 * g.pad_w - g.k_w) / g.stride_w + 1;
  return g;
}

TEST(Conv2dKernelTest, StackedForwardHasTheBitsOfOneImageAtATime) {
  const auto g = geometry();
  const std::size_t images = 5;
  const Tensor<float> x = random_tensor<float>(Shape{images, g.in_c, g.in_h, g.in_w}, 1);
  const Tensor<float> w = random_tensor<float>(Shape{g.out_c, g.patch()}, 2), b = random_tensor<float>(Shape{g.out_c}, 3);
  Tensor<float> one(Shape{images, g.out_c, g.out_h, g.out_w}), stacked(one.shape());
  std::vector<float> scratch(kernels::conv2d_stacked_scratch<float>(g, g.out_c, images));
  for (std::size_t n = 0; n < images; ++n)
    kernels::conv2d_forward_stacked(x.data() + n * g.in_image(), 1, w.data(), b.data(), g, Range{0, g.out_c},
                                    scratch.data(), one.data() + n * g.out_image());
  kernels::conv2d_forward_stacked(x.data(), images, w.data(), b.data(), g, Range{0, g.out_c}, scratch.data(),
                                  stacked.data());
  EXPECT_TRUE(bitwise<float>(stacked, one));
}

TEST(Conv2dKernelTest, StackedBackwardHasTheBitsOfOneImageAtATime) {
  const auto g = geometry();
  const std::size_t images = 4;
  const Tensor<float> x = random_tensor<float>(Shape{images, g.in_c, g.in_h, g.in_w}, 4);
  const Tensor<float> dy = random_tensor<float>(Shape{images, g.out_c, g.out_h, g.out_w}, 5);
  const Tensor<float> w = random_tensor<float>(Shape{g.out_c, g.patch()}, 6);
  Tensor<float> dw1(w.shape()), db1(Shape{g.out_c}), dx1(x.shape()), dw2(w.shape()), db2(Shape{g.out_c}), dx2(x.shape());
  std::vector<float> scratch(kernels::conv2d_backward_scratch<float>(g, images));
  for (std::size_t n = 0; n < images; ++n)
    kernels::conv2d_backward(x.data() + n * g.in_image(), 1, w.data(), dy.data() + n * g.out_image(), g, dw1.data(),
                             db1.data(), dx1.data() + n * g.in_image(), scratch.data());
  kernels::conv2d_backward(x.data(), images, w.data(), dy.data(), g, dw2.data(), db2.data(), dx2.data(), scratch.data());
  EXPECT_TRUE(bitwise<float>(dw2, dw1));
  EXPECT_TRUE(bitwise<float>(db2, db1));
  EXPECT_TRUE(bitwise<float>(dx2, dx1));
}

}  // namespace
}  // namespace parcnn::test
