// The convolution kernels: images stacked in one GEMM give the bits of one image at a time, and a fused
// epilogue (bias, 2×2 pool, GELU) those of the pooling and GELU kernels run apart, recording the pool's
// positions and values for training where asked.
#include <parcnn/kernels/conv2d.hpp>

#include <cmath>
#include <cstring>

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

// The GEMM over padded input rows (no columns) against conv2d_forward_im2col, bit for bit, on blocks of
// whole rows and of channels: paddings 0 to 3, dilation, rectangular kernels, 1×1, odd sizes,
// channels not multiples of 8, rows of 1 to 40 values.
template <class T>
void check_shifted_matches_im2col() {
  struct G {
    std::size_t in_c, h, w, out_c, kh, kw, pad_h, pad_w, dil_h, dil_w;
  };
  std::uint64_t seed = 40;
  for (const G& c : {G{1, 5, 5, 1, 3, 3, 0, 0, 1, 1}, G{3, 28, 28, 16, 3, 3, 1, 1, 1, 1}, G{16, 14, 14, 17, 3, 3, 1, 1, 1, 1},
                     G{5, 7, 7, 9, 3, 3, 1, 1, 1, 1}, G{2, 9, 40, 3, 2, 3, 2, 3, 1, 1}, G{4, 11, 13, 6, 3, 3, 2, 2, 2, 2},
                     G{3, 10, 12, 5, 3, 2, 0, 1, 2, 3}, G{7, 6, 6, 13, 1, 1, 0, 0, 1, 1}, G{2, 1, 9, 3, 1, 3, 0, 1, 1, 1},
                     G{1, 30, 30, 32, 5, 5, 2, 2, 1, 1}}) {
    kernels::Conv2dGeometry g;
    g.in_c = c.in_c, g.in_h = c.h, g.in_w = c.w, g.out_c = c.out_c, g.k_h = c.kh, g.k_w = c.kw;
    g.pad_h = c.pad_h, g.pad_w = c.pad_w, g.dil_h = c.dil_h, g.dil_w = c.dil_w;
    g.out_h = g.in_h + 2 * g.pad_h - g.dil_h * (g.k_h - 1);
    g.out_w = g.in_w + 2 * g.pad_w - g.dil_w * (g.k_w - 1);
    ASSERT_TRUE(kernels::conv2d_shifted_fits(g));
    const Tensor<T> x = random_tensor<T>(Shape{g.in_c, g.in_h, g.in_w}, seed++);
    const Tensor<T> w = random_tensor<T>(Shape{g.out_c, g.patch()}, seed++), b = random_tensor<T>(Shape{g.out_c}, seed++);
    const Range all{0, g.out_c}, rows{0, g.out_h}, cols{0, g.out_w};
    Tensor<T> expected(Shape{g.out_c, g.out_h, g.out_w});
    std::vector<T> scratch(kernels::conv2d_im2col_scratch<T>(g, g.out_c, g.out_h, g.out_w));
    kernels::conv2d_forward_im2col(x.data(), w.data(), b.data(), g, all, rows, cols, scratch.data(), expected.data());
    for (const auto& [channels, block_rows] :
         {std::pair{all, rows}, std::pair{Range{0, (g.out_c + 1) / 2}, rows}, std::pair{Range{g.out_c / 3, g.out_c}, Range{g.out_h / 2, g.out_h}},
          std::pair{all, Range{0, 1}}}) {
      SCOPED_TRACE(std::to_string(c.in_c) + "x" + std::to_string(c.h) + "x" + std::to_string(c.w) + " -> " +
                   std::to_string(c.out_c) + ", channels " + std::to_string(channels.begin) + ".." +
                   std::to_string(channels.end) + ", rows " + std::to_string(block_rows.begin) + ".." +
                   std::to_string(block_rows.end));
      Tensor<T> y(expected.shape(), T(-7));
      std::vector<T> shifted(kernels::conv2d_shifted_scratch<T>(g, channels.size(), block_rows.size()), T(std::nan("")));
      kernels::conv2d_forward_shifted(x.data(), w.data(), b.data(), g, channels, block_rows, shifted.data(), y.data());
      for (std::size_t co = 0; co < g.out_c; ++co)
        for (std::size_t oh = 0; oh < g.out_h; ++oh)
          for (std::size_t ow = 0; ow < g.out_w; ++ow) {
            const bool inside = channels.begin <= co && co < channels.end && block_rows.begin <= oh && oh < block_rows.end;
            const T want = inside ? expected(co, oh, ow) : T(-7);  // and nothing outside the block written
            ASSERT_EQ(std::memcmp(&y(co, oh, ow), &want, sizeof(T)), 0) << co << ", " << oh << ", " << ow;
          }
    }
  }
}

TEST(Conv2dKernelTest, ShiftedRowsHaveTheBitsOfIm2colFloat) { check_shifted_matches_im2col<float>(); }
TEST(Conv2dKernelTest, ShiftedRowsHaveTheBitsOfIm2colDouble) { check_shifted_matches_im2col<double>(); }

// dW = start + dY·colsᵀ as one GEMM over im2col's columns of every image side by side, transposed: the
// chain each weight-gradient element follows (images, then positions, in order).
template <class T>
Tensor<T> columns_weight_gradient(const Tensor<T>& x, const Tensor<T>& dy, const Tensor<T>& start,
                                  const kernels::Conv2dGeometry& g) {
  const std::size_t images = x.dim(0), K = g.patch(), P = g.positions(), cols = images * P;
  std::vector<T> columns(K * cols), columns_t(K * cols), dy_cols(g.out_c * cols);
  for (std::size_t i = 0; i < images; ++i) {
    kernels::im2col(x.data() + i * g.in_image(), g, Range{0, g.out_h}, Range{0, g.out_w}, columns.data() + i * P, cols);
    for (std::size_t co = 0; co < g.out_c; ++co)
      std::copy_n(dy.data() + i * g.out_image() + co * P, P, dy_cols.data() + co * cols + i * P);
  }
  kernels::transpose(columns.data(), K, cols, columns_t.data());
  Tensor<T> dw = start;
  kernels::gemm(g.out_c, K, cols, dy_cols.data(), cols, columns_t.data(), K, dw.data(), K, true);
  return dw;
}

// conv2d_backward's weight gradient where it builds columns (strides 2 and 3, a patch longer than the
// padded-rows path takes) has the bits of that GEMM, images stacked or one at a time — it multiplies
// columns by dYᵀ into dWᵀ, the same products in the same order.
template <class T>
void check_weight_gradient_through_columns() {
  struct G {
    std::size_t in_c, hw, out_c, k, stride, pad;
  };
  std::uint64_t seed = 120;
  for (const G& c : {G{16, 28, 32, 3, 2, 1}, G{32, 14, 17, 3, 2, 1}, G{64, 7, 9, 3, 1, 1}, G{16, 28, 32, 1, 2, 0},
                     G{3, 11, 5, 5, 3, 2}}) {
    kernels::Conv2dGeometry g;
    g.in_c = c.in_c, g.in_h = g.in_w = c.hw, g.out_c = c.out_c, g.k_h = g.k_w = c.k;
    g.stride_h = g.stride_w = c.stride, g.pad_h = g.pad_w = c.pad;
    g.out_h = g.out_w = (c.hw + 2 * c.pad - c.k) / c.stride + 1;
    ASSERT_FALSE(kernels::conv2d_shifted_fits(g));
    const std::size_t images = 3;
    const Tensor<T> x = random_tensor<T>(Shape{images, g.in_c, g.in_h, g.in_w}, seed++);
    const Tensor<T> dy = random_tensor<T>(Shape{images, g.out_c, g.out_h, g.out_w}, seed++);
    const Tensor<T> start = random_tensor<T>(Shape{g.out_c, g.patch()}, seed++);
    const Tensor<T> expected = columns_weight_gradient(x, dy, start, g);
    Tensor<T> stacked = start, one = start;
    std::vector<T> scratch(kernels::conv2d_backward_scratch<T>(g, images), T(std::nan("")));
    kernels::conv2d_backward(x.data(), images, start.data(), dy.data(), g, stacked.data(), static_cast<T*>(nullptr),
                             static_cast<T*>(nullptr), scratch.data());
    for (std::size_t i = 0; i < images; ++i)
      kernels::conv2d_backward(x.data() + i * g.in_image(), 1, start.data(), dy.data() + i * g.out_image(), g, one.data(),
                               static_cast<T*>(nullptr), static_cast<T*>(nullptr), scratch.data());
    SCOPED_TRACE(std::to_string(c.in_c) + "@" + std::to_string(c.hw) + " -> " + std::to_string(c.out_c) + " stride " +
                 std::to_string(c.stride));
    EXPECT_TRUE(bitwise<T>(stacked, expected));
    EXPECT_TRUE(bitwise<T>(one, expected));
  }
}

TEST(Conv2dKernelTest, WeightGradientThroughColumnsIsOneChainFloat) { check_weight_gradient_through_columns<float>(); }
TEST(Conv2dKernelTest, WeightGradientThroughColumnsIsOneChainDouble) { check_weight_gradient_through_columns<double>(); }

// The weight gradient from the padded rows against im2col's columns, transposed, through the GEMM (what
// conv2d_backward runs at other strides): the same bits, images stacked or one at a time. And
// conv2d_backward's input gradient against col2im's.
template <class T>
void check_weight_gradient_shifted_matches_columns() {
  struct G {
    std::size_t in_c, h, w, out_c, kh, kw, pad, dil;
  };
  std::uint64_t seed = 80;
  for (const G& c : {G{1, 28, 28, 16, 3, 3, 1, 1}, G{16, 14, 14, 17, 3, 3, 1, 1}, G{3, 9, 11, 33, 2, 3, 0, 1},
                     G{5, 7, 7, 9, 3, 3, 2, 2}, G{7, 6, 6, 13, 1, 1, 0, 1}, G{2, 12, 10, 5, 5, 5, 2, 1}}) {
    kernels::Conv2dGeometry g;
    g.in_c = c.in_c, g.in_h = c.h, g.in_w = c.w, g.out_c = c.out_c, g.k_h = c.kh, g.k_w = c.kw;
    g.pad_h = g.pad_w = c.pad, g.dil_h = g.dil_w = c.dil;
    g.out_h = g.in_h + 2 * g.pad_h - g.dil_h * (g.k_h - 1);
    g.out_w = g.in_w + 2 * g.pad_w - g.dil_w * (g.k_w - 1);
    const std::size_t images = 3, K = g.patch(), P = g.positions(), cols = images * P;
    const Tensor<T> x = random_tensor<T>(Shape{images, g.in_c, g.in_h, g.in_w}, seed++);
    const Tensor<T> dy = random_tensor<T>(Shape{images, g.out_c, g.out_h, g.out_w}, seed++);
    const Tensor<T> start = random_tensor<T>(Shape{g.out_c, K}, seed++);
    const Tensor<T> expected = columns_weight_gradient(x, dy, start, g);
    std::vector<T> dy_cols(g.out_c * cols);
    for (std::size_t i = 0; i < images; ++i)
      for (std::size_t co = 0; co < g.out_c; ++co)
        std::copy_n(dy.data() + i * g.out_image() + co * P, P, dy_cols.data() + co * cols + i * P);
    std::vector<T> scratch(kernels::conv2d_weight_gradient_shifted_scratch<T>(g), T(std::nan("")));
    Tensor<T> stacked = start, one = start;
    kernels::conv2d_weight_gradient_shifted(x.data(), images, dy.data(), g, stacked.data(), scratch.data());
    for (std::size_t i = 0; i < images; ++i)
      kernels::conv2d_weight_gradient_shifted(x.data() + i * g.in_image(), 1, dy.data() + i * g.out_image(), g, one.data(),
                                              scratch.data());
    SCOPED_TRACE(std::to_string(c.in_c) + "x" + std::to_string(c.h) + "x" + std::to_string(c.w) + " -> " +
                 std::to_string(c.out_c));
    EXPECT_TRUE(bitwise<T>(stacked, expected));
    EXPECT_TRUE(bitwise<T>(one, expected));
    // The input gradient, a convolution of dY by the flipped weight, against Wᵀ·dY scattered by col2im:
    // the same values up to rounding (the sums run in another order).
    std::vector<T> dcols(K * cols);
    kernels::gemm_strided(K, cols, g.out_c, start.data(), std::size_t{1}, K, dy_cols.data(), cols, dcols.data(), cols);
    Tensor<T> dx_expected(x.shape()), dx(x.shape()), dw(start.shape()), db(Shape{g.out_c});
    for (std::size_t i = 0; i < images; ++i)
      kernels::col2im(dcols.data() + i * P, cols, g, dx_expected.data() + i * g.in_image());
    std::vector<T> backward(kernels::conv2d_backward_scratch<T>(g, images), T(std::nan("")));
    kernels::conv2d_backward(x.data(), images, start.data(), dy.data(), g, dw.data(), db.data(), dx.data(), backward.data());
    EXPECT_TRUE(near<T>(dx, dx_expected, tolerance<T>()));
  }
}

TEST(Conv2dKernelTest, WeightGradientFromShiftedRowsHasTheBitsOfTheColumnsFloat) {
  check_weight_gradient_shifted_matches_columns<float>();
}
TEST(Conv2dKernelTest, WeightGradientFromShiftedRowsHasTheBitsOfTheColumnsDouble) {
  check_weight_gradient_shifted_matches_columns<double>();
}

}  // namespace
}  // namespace parcnn::test
