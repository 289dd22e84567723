// The convolution kernels: images stacked in one GEMM give the bits of one image at a time, and a fused
// epilogue (bias, 2×2 pool, GELU) those of the pooling and GELU kernels run apart, recording the pool's
// positions and values for training where asked.
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
  const kernels::PostOps none;
  const Range all{0, g.out_c}, rows{0, g.out_h}, cols{0, g.out_w};
  std::vector<float> scratch(kernels::conv2d_epilogue_scratch<float>(g, none, g.out_c, images, g.out_h, g.out_w));
  for (std::size_t n = 0; n < images; ++n)
    kernels::conv2d_forward_epilogue(x.data() + n * g.in_image(), 1, w.data(), b.data(), g, none, all, rows, cols,
                                     scratch.data(), one.data() + n * g.out_image());
  kernels::conv2d_forward_epilogue(x.data(), images, w.data(), b.data(), g, none, all, rows, cols, scratch.data(),
                                   stacked.data());
  EXPECT_TRUE(bitwise<float>(stacked, one));
}

// The convolution, then MaxPool2d's kernel, then GELU's, each over whole tensors.
template <class T>
Tensor<T> conv_then_epilogue_apart(const Tensor<T>& x, const Tensor<T>& w, const T* bias, const kernels::Conv2dGeometry& g,
                                   const kernels::PostOps& e) {
  const std::size_t images = x.dim(0);
  Tensor<T> conv(Shape{images, g.out_c, g.out_h, g.out_w});
  std::vector<T> scratch(kernels::conv2d_im2col_scratch<T>(g, g.out_c, g.out_h, g.out_w));
  for (std::size_t n = 0; n < images; ++n)
    kernels::conv2d_forward_im2col(x.data() + n * g.in_image(), w.data(), bias, g, Range{0, g.out_c},
                                   Range{0, g.out_h}, Range{0, g.out_w}, scratch.data(), conv.data() + n * g.out_image());
  Tensor<T> y = conv;
  if (e.pools()) {
    kernels::Conv2dGeometry p;
    p.in_c = p.out_c = g.out_c, p.in_h = g.out_h, p.in_w = g.out_w, p.k_h = p.k_w = p.stride_h = p.stride_w = 2;
    p.out_h = g.out_h / 2, p.out_w = g.out_w / 2;
    y = Tensor<T>(Shape{images, g.out_c, p.out_h, p.out_w});
    for (std::size_t n = 0; n < images; ++n)
      kernels::maxpool2d_forward(conv.data() + n * p.in_image(), p, Range{0, p.in_c}, Range{0, p.out_h},
                                 Range{0, p.out_w}, y.data() + n * p.out_image());
  }
  for (const kernels::PostOp& op : e)
    if (op.elementwise()) kernels::apply_post_op(op, y.data(), y.data(), y.size());
  return y;
}

// Fused, in blocks of channels × rows × columns of the epilogue's output (several images per GEMM),
// against the kernels run apart: the same bits, NaN included.
template <class T>
void check_epilogue_matches_kernels_apart() {
  kernels::Conv2dGeometry odd;  // stride 1, no padding (im2col's fast path), odd output 7 × 9
  odd.in_c = 3, odd.in_h = 9, odd.in_w = 11, odd.out_c = 11, odd.k_h = odd.k_w = 3, odd.out_h = 7, odd.out_w = 9;
  kernels::Conv2dGeometry strided = geometry();  // padding 1, a 3 × 2 kernel: 7 × 5 outputs
  strided.stride_w = 2, strided.pad_w = 1, strided.out_w = (strided.in_w + 2 - 2) / 2 + 1;
  const std::size_t images = 3;
  using K = kernels::PostOp::Kind;
  const kernels::PostOps pool_gelu{{K::max_pool_2x2}, {K::gelu_tanh}}, pool{{K::max_pool_2x2}}, gelu{{K::gelu}};
  const kernels::PostOps pool_relu{{K::max_pool_2x2}, {K::relu}}, relu_gelu{{K::relu}, {K::gelu_tanh}};
  std::uint64_t seed = 20;
  for (const auto& g : {odd, strided})
    for (const auto& e : {pool_gelu, pool, gelu, pool_relu, relu_gelu}) {
      SCOPED_TRACE(e.str() + " after a conv to " + std::to_string(g.out_h) + "x" + std::to_string(g.out_w));
      Tensor<T> x = random_tensor<T>(Shape{images, g.in_c, g.in_h, g.in_w}, seed++);
      x(1, 2, 4, 5) = std::numeric_limits<T>::quiet_NaN();
      const Tensor<T> w = random_tensor<T>(Shape{g.out_c, g.patch()}, seed++);
      const Tensor<T> b = random_tensor<T>(Shape{g.out_c}, seed++);
      const Tensor<T> expected = conv_then_epilogue_apart(x, w, b.data(), g, e);
      const std::size_t eh = kernels::epilogue_out_h(g, e), ew = kernels::epilogue_out_w(g, e);
      ASSERT_EQ(expected.shape(), (Shape{images, g.out_c, eh, ew}));
      Tensor<T> fused(expected.shape());
      std::fill(fused.begin(), fused.end(), T(-9));
      std::vector<T> scratch(kernels::conv2d_epilogue_scratch<T>(g, e, g.out_c, images, eh, ew));
      const std::vector<Range> channels{{0, 4}, {4, g.out_c}}, rows{{0, 1}, {1, eh}}, cols{{0, ew - 1}, {ew - 1, ew}};
      for (const Range& c : channels)
        for (const Range& r : rows)
          for (const Range& q : cols)
            kernels::conv2d_forward_epilogue(x.data(), images, w.data(), b.data(), g, e, c, r, q, scratch.data(),
                                             fused.data());
      EXPECT_TRUE(bitwise<T>(fused, expected));
    }
}

// With a record for a training pass (EpilogueRecord), in blocks as above: each window's position in the
// convolution's output and the pooled values before GELU, as maxpool2x2_positions finds them on the
// whole output — NaN and ties (a channel of zero weights: all its outputs are its bias) included — and
// the output of the epilogue without a record; through shared columns (conv2d_forward_epilogue_columns)
// too.
template <class T>
void check_epilogue_records_the_pool() {
  kernels::Conv2dGeometry odd;
  odd.in_c = 3, odd.in_h = 9, odd.in_w = 11, odd.out_c = 11, odd.k_h = odd.k_w = 3, odd.out_h = 7, odd.out_w = 9;
  kernels::Conv2dGeometry one_window = odd;  // conv3's case: a 2×2 tile per channel and image
  one_window.in_h = 4, one_window.in_w = 4, one_window.out_h = 2, one_window.out_w = 2;
  const std::size_t images = 3;
  using K = kernels::PostOp::Kind;
  const kernels::PostOps none, pool{{K::max_pool_2x2}}, pool_gelu{{K::max_pool_2x2}, {K::gelu}},
      pool_relu{{K::max_pool_2x2}, {K::relu}};
  std::uint64_t seed = 60;
  for (const auto& g : {odd, one_window})
    for (const auto& e : {pool, pool_gelu, pool_relu}) {
      SCOPED_TRACE(e.str() + " after a conv to " + std::to_string(g.out_h) + "x" + std::to_string(g.out_w));
      Tensor<T> x = random_tensor<T>(Shape{images, g.in_c, g.in_h, g.in_w}, seed++);
      x(1, 2, g.in_h / 2, g.in_w / 2) = std::numeric_limits<T>::quiet_NaN();
      Tensor<T> w = random_tensor<T>(Shape{g.out_c, g.patch()}, seed++);
      std::fill_n(w.data() + 5 * g.patch(), g.patch(), T(0));  // channel 5: all ties
      const Tensor<T> b = random_tensor<T>(Shape{g.out_c}, seed++);
      const Tensor<T> map = conv_then_epilogue_apart(x, w, b.data(), g, none);
      const std::size_t eh = kernels::epilogue_out_h(g, e), ew = kernels::epilogue_out_w(g, e), J = eh * ew;
      Tensor<T> pooled(Shape{images, g.out_c, eh, ew});
      std::vector<std::uint32_t> positions(pooled.size());
      for (std::size_t plane = 0; plane < images * g.out_c; ++plane)
        kernels::maxpool2x2_positions(map.data() + plane * g.out_h * g.out_w, g.out_w, eh, ew,
                                      positions.data() + plane * J, pooled.data() + plane * J);
      const Tensor<T> expected = conv_then_epilogue_apart(x, w, b.data(), g, e);
      auto check = [&](const Tensor<T>& out, const Tensor<T>& kept, const std::vector<std::uint32_t>& pos) {
        EXPECT_TRUE(bitwise<T>(out, expected));
        EXPECT_EQ(pos, positions);
        if (e.has_elementwise()) {
          EXPECT_TRUE(bitwise<T>(kept, pooled));
        }
      };
      std::vector<T> scratch(kernels::conv2d_epilogue_scratch<T>(g, e, g.out_c, images, eh, ew));
      const std::vector<Range> channels{{0, 4}, {4, g.out_c}};
      const std::vector<Range> rows = eh > 1 ? std::vector<Range>{{0, 1}, {1, eh}} : std::vector<Range>{{0, eh}};
      const std::vector<Range> cols = ew > 1 ? std::vector<Range>{{0, ew - 1}, {ew - 1, ew}} : std::vector<Range>{{0, ew}};
      Tensor<T> out(expected.shape()), kept(expected.shape());
      std::vector<std::uint32_t> pos(positions.size(), 0xFFFFFFFFu);
      const kernels::EpilogueRecord<T> record{pos.data(), e.has_elementwise() ? kept.data() : nullptr};
      for (const Range& c : channels)
        for (const Range& r : rows)
          for (const Range& q : cols)
            kernels::conv2d_forward_epilogue(x.data(), images, w.data(), b.data(), g, e, c, r, q, scratch.data(),
                                             out.data(), record);
      check(out, kept, pos);

      std::fill(pos.begin(), pos.end(), 0xFFFFFFFFu);
      const std::size_t ld = kernels::epilogue_columns_stride<T>(g, e);
      std::vector<T> columns(g.patch() * ld);
      for (std::size_t n = 0; n < images; ++n) {
        kernels::im2col_for_epilogue(x.data() + n * g.in_image(), g, e, columns.data());
        const std::size_t at = n * g.out_c * J;
        for (const Range& c : channels)
          kernels::conv2d_forward_epilogue_columns(columns.data(), w.data(), b.data(), g, e, c, scratch.data(),
                                                   out.data() + at,
                                                   kernels::EpilogueRecord<T>{pos.data() + at, e.has_elementwise() ? kept.data() + at : nullptr});
      }
      check(out, kept, pos);
    }
}

TEST(Conv2dKernelTest, EpilogueRecordsThePoolForTrainingFloat) { check_epilogue_records_the_pool<float>(); }
TEST(Conv2dKernelTest, EpilogueRecordsThePoolForTrainingDouble) { check_epilogue_records_the_pool<double>(); }

TEST(Conv2dKernelTest, EpilogueHasTheBitsOfTheKernelsApartFloat) { check_epilogue_matches_kernels_apart<float>(); }
TEST(Conv2dKernelTest, EpilogueHasTheBitsOfTheKernelsApartDouble) { check_epilogue_matches_kernels_apart<double>(); }

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
