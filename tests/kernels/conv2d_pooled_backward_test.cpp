// The backward pass of convolution → 2×2 max pool (→ GELU) through the windows' maxima, against the
// dense chain of the kernels run apart (GELU's backward, the pool's reference backward, the convolution's
// im2col backward) on many geometries; given the pool's window positions, the same bits.
#include <parcnn/kernels/conv2d_pooled_backward.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

struct Case {
  std::size_t in_c, out_c, h, w, k_h, k_w, stride, pad;
};

// Odd and even maps, channel counts that are not multiples of the vector width (1, 3, 17, 33), stride 2,
// padding, rectangular and 1×1 kernels, long patches (64 channels), and the letter CNN's convolutions.
const std::vector<Case>& cases() {
  static const std::vector<Case> all{
      {1, 32, 28, 28, 3, 3, 1, 0}, {32, 64, 13, 13, 3, 3, 1, 0}, {64, 128, 5, 5, 3, 3, 1, 0},
      {1, 1, 5, 5, 3, 3, 1, 0},    {3, 5, 9, 11, 3, 3, 1, 0},    {17, 9, 8, 7, 3, 3, 1, 1},
      {4, 6, 10, 12, 3, 3, 2, 1},  {6, 3, 8, 9, 2, 3, 1, 0},     {33, 7, 6, 6, 1, 1, 1, 0},
      {16, 17, 7, 9, 5, 5, 1, 2},  {2, 40, 4, 4, 3, 3, 1, 1},
  };
  return all;
}

kernels::Conv2dGeometry geometry(const Case& c) {
  kernels::Conv2dGeometry g;
  g.in_c = c.in_c, g.in_h = c.h, g.in_w = c.w, g.out_c = c.out_c, g.k_h = c.k_h, g.k_w = c.k_w;
  g.stride_h = g.stride_w = c.stride, g.pad_h = g.pad_w = c.pad;
  g.out_h = (g.in_h + 2 * g.pad_h - g.k_h) / g.stride_h + 1;
  g.out_w = (g.in_w + 2 * g.pad_w - g.k_w) / g.stride_w + 1;
  return g;
}

// The pool over the convolution's output as the MaxPool2d layer sees it.
kernels::Conv2dGeometry pool_geometry(const kernels::Conv2dGeometry& g) {
  kernels::Conv2dGeometry p;
  p.in_c = p.out_c = g.out_c, p.in_h = g.out_h, p.in_w = g.out_w, p.k_h = p.k_w = 2, p.stride_h = p.stride_w = 2;
  p.out_h = g.out_h / 2, p.out_w = g.out_w / 2;
  return p;
}

template <class T>
void check_against_the_kernels_apart() {
  using K = kernels::PostOp::Kind;
  const kernels::PostOps pool{{K::max_pool_2x2}}, pool_gelu{{K::max_pool_2x2}, {K::gelu_tanh}},
      pool_relu{{K::max_pool_2x2}, {K::relu}};
  std::uint64_t seed = 10;
  for (const Case& c : cases())
    for (const kernels::PostOps& e : {pool, pool_gelu, pool_relu}) {
      const kernels::Conv2dGeometry g = geometry(c), pg = pool_geometry(g);
      SCOPED_TRACE("in " + std::to_string(c.in_c) + "x" + std::to_string(c.h) + "x" + std::to_string(c.w) + " out " +
                   std::to_string(c.out_c) + " k " + std::to_string(c.k_h) + "x" + std::to_string(c.k_w) + " stride " +
                   std::to_string(c.stride) + " pad " + std::to_string(c.pad) + ", " + e.str());
      const std::size_t images = 3, J = pg.out_h * pg.out_w;
      const Tensor<T> x = random_tensor<T>(Shape{images, g.in_c, g.in_h, g.in_w}, seed++);
      const Tensor<T> w = random_tensor<T>(Shape{g.out_c, g.patch()}, seed++, -0.3, 0.3);
      const Tensor<T> b = random_tensor<T>(Shape{g.out_c}, seed++);
      const Tensor<T> grad = random_tensor<T>(Shape{images, g.out_c, pg.out_h, pg.out_w}, seed++);
      Tensor<T> y(Shape{images, g.out_c, g.out_h, g.out_w}), pooled(grad.shape());
      kernels::conv2d_forward_reference(x.data(), w.data(), b.data(), g, images, y.data());
      for (std::size_t n = 0; n < images; ++n)
        kernels::maxpool2d_forward(y.data() + n * g.out_image(), pg, Range{0, g.out_c}, Range{0, pg.out_h},
                                   Range{0, pg.out_w}, pooled.data() + n * g.out_c * J);

      // Apart: GELU's backward, the pool's, then the convolution's dense backward, image by image.
      Tensor<T> dw_apart(w.shape()), db_apart(b.shape()), dx_apart(x.shape()), v(grad.shape()), dy(y.shape());
      if (e.size() > 1)
        kernels::apply_post_op_backward(e[1], pooled.data(), grad.data(), v.data(), v.size());
      else
        std::copy(grad.begin(), grad.end(), v.begin());
      kernels::maxpool2d_backward_reference(y.data(), v.data(), pg, images, dy.data());
      std::vector<T> dense_scratch(kernels::conv2d_backward_scratch<T>(g, 1));
      for (std::size_t n = 0; n < images; ++n)
        kernels::conv2d_backward(x.data() + n * g.in_image(), 1, w.data(), dy.data() + n * g.out_image(), g,
                                 dw_apart.data(), db_apart.data(), dx_apart.data() + n * g.in_image(),
                                 dense_scratch.data());

      // Through the windows.
      Tensor<T> dw(w.shape()), db(b.shape()), dx(x.shape());
      std::vector<T> weight_cl(kernels::conv2d_weight_channels_last_size<T>(g));
      kernels::conv2d_weight_channels_last(w.data(), g, weight_cl.data());
      AlignedBuffer<T> scratch;
      scratch.reserve(kernels::conv2d_pooled_backward_scratch<T>(g));
      std::vector<T> acc(w.size()), add_scratch(g.patch());
      for (std::size_t n = 0; n < images; ++n)
        kernels::conv2d_pooled_backward(x.data() + n * g.in_image(), y.data() + n * g.out_image(), nullptr,
                                        pooled.data() + n * g.out_c * J, grad.data() + n * g.out_c * J,
                                        weight_cl.data(), g, e, acc.data(), db.data(), dx.data() + n * g.in_image(),
                                        scratch.data());
      kernels::conv2d_pooled_weight_gradient_add(g, acc.data(), dw.data(), add_scratch.data());
      EXPECT_TRUE(near<T>(dw, dw_apart, tolerance<T>())) << "weight gradient";
      EXPECT_TRUE(near<T>(db, db_apart, tolerance<T>())) << "bias gradient";
      EXPECT_TRUE(near<T>(dx, dx_apart, tolerance<T>())) << "input gradient";

      // Without the input gradient or the bias, the weight gradient keeps its bits.
      Tensor<T> dw_alone(w.shape());
      std::fill(acc.begin(), acc.end(), T(0));
      for (std::size_t n = 0; n < images; ++n)
        kernels::conv2d_pooled_backward(x.data() + n * g.in_image(), y.data() + n * g.out_image(), nullptr,
                                        pooled.data() + n * g.out_c * J, grad.data() + n * g.out_c * J,
                                        static_cast<const T*>(nullptr), g, e, acc.data(), static_cast<T*>(nullptr),
                                        static_cast<T*>(nullptr), scratch.data());
      kernels::conv2d_pooled_weight_gradient_add(g, acc.data(), dw_alone.data(), add_scratch.data());
      EXPECT_TRUE(bitwise<T>(dw_alone, dw));

      // Given the pool's positions (and no convolution output to find them in), the same bits.
      std::vector<std::uint32_t> positions(images * g.out_c * J);
      for (std::size_t plane = 0; plane < images * g.out_c; ++plane)
        kernels::maxpool2x2_positions(y.data() + plane * g.positions(), g.out_w, pg.out_h, pg.out_w,
                                      positions.data() + plane * J);
      Tensor<T> dw_given(w.shape()), db_given(b.shape()), dx_given(x.shape());
      std::fill(acc.begin(), acc.end(), T(0));
      for (std::size_t n = 0; n < images; ++n)
        kernels::conv2d_pooled_backward(x.data() + n * g.in_image(), static_cast<const T*>(nullptr),
                                        positions.data() + n * g.out_c * J, pooled.data() + n * g.out_c * J,
                                        grad.data() + n * g.out_c * J, weight_cl.data(), g, e, acc.data(),
                                        db_given.data(), dx_given.data() + n * g.in_image(), scratch.data());
      kernels::conv2d_pooled_weight_gradient_add(g, acc.data(), dw_given.data(), add_scratch.data());
      EXPECT_TRUE(bitwise<T>(dw_given, dw));
      EXPECT_TRUE(bitwise<T>(db_given, db));
      EXPECT_TRUE(bitwise<T>(dx_given, dx));
    }
}

TEST(Conv2dPooledBackwardTest, MatchesTheKernelsApartFloat) { check_against_the_kernels_apart<float>(); }
TEST(Conv2dPooledBackwardTest, MatchesTheKernelsApartDouble) { check_against_the_kernels_apart<double>(); }

}  // namespace
}  // namespace parcnn::test
