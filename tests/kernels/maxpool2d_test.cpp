// The max pool's backward kernel against its plain-loop oracle, bit for bit: 2×2 windows at stride 2
// (window by window, or 16 at a time in rows of 4 windows or more: rows of 3 to 35 windows) on maps
// whose last row or column no window reads, with ties, NaN, −inf and signed zero gradients; other
// windows through the general loop. The positions of 2×2 windows (maxpool2x2_positions) against
// window_choice.
#include <parcnn/kernels/maxpool2d.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

kernels::Conv2dGeometry pool(std::size_t c, std::size_t h, std::size_t w, std::size_t k, std::size_t s, std::size_t p) {
  kernels::Conv2dGeometry g;
  g.in_c = g.out_c = c, g.in_h = h, g.in_w = w, g.k_h = g.k_w = k, g.stride_h = g.stride_w = s, g.pad_h = g.pad_w = p;
  g.out_h = (h + 2 * p - k) / s + 1;
  g.out_w = (w + 2 * p - k) / s + 1;
  return g;
}

template <class T>
void check_backward_matches_reference() {
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  for (const auto& g : {pool(3, 8, 8, 2, 2, 0), pool(5, 7, 9, 2, 2, 0), pool(2, 26, 26, 2, 2, 0), pool(3, 7, 6, 2, 2, 0),
                        pool(2, 4, 70, 2, 2, 0), pool(2, 7, 7, 3, 2, 1), pool(1, 6, 6, 2, 1, 0)}) {
    SCOPED_TRACE(std::to_string(g.in_c) + "x" + std::to_string(g.in_h) + "x" + std::to_string(g.in_w) + " k" +
                 std::to_string(g.k_h) + " s" + std::to_string(g.stride_h));
    const std::size_t images = 2;
    // Few distinct values, so that most windows hold ties; then NaNs and −inf in some windows.
    Tensor<T> x = random_tensor<T>(Shape{images, g.in_c, g.in_h, g.in_w}, 7);
    for (T& v : x) v = std::round(v * 2);
    x(0, 0, 0, 1) = nan;
    x(1, g.in_c - 1, 1, 1) = nan;
    x(1, 0, 0, 0) = nan;
    x(1, 0, 1, 1) = nan;  // two NaNs in one window: the first one takes the gradient
    x(0, g.in_c - 1, 2, 2) = -inf;
    x(0, g.in_c - 1, 2, 3) = -inf;
    x(0, g.in_c - 1, 3, 2) = -inf;
    x(0, g.in_c - 1, 3, 3) = -inf;  // a window of −inf only: its first element
    Tensor<T> dy = random_tensor<T>(Shape{images, g.in_c, g.out_h, g.out_w}, 8);
    dy(0, 0, 0, 0) = T(-0.0);  // 0 + (−0) is +0: the kernel adds as the oracle does
    Tensor<T> expected(x.shape()), actual(x.shape());
    kernels::maxpool2d_backward_reference(x.data(), dy.data(), g, images, expected.data());
    std::fill(actual.begin(), actual.end(), T(7));  // overwritten, the unread last row and column too
    for (std::size_t n = 0; n < images; ++n)
      kernels::maxpool2d_backward(x.data() + n * g.in_image(), dy.data() + n * g.in_c * g.out_h * g.out_w, g,
                                  actual.data() + n * g.in_image());
    EXPECT_TRUE(bitwise<T>(actual, expected));
    EXPECT_FALSE(std::signbit(actual(0, 0, 0, 0) + actual(0, 0, 0, 1) + actual(0, 0, 1, 0) + actual(0, 0, 1, 1)));
  }
}

TEST(MaxPool2dKernelTest, BackwardHasTheBitsOfTheReferenceFloat) { check_backward_matches_reference<float>(); }
TEST(MaxPool2dKernelTest, BackwardHasTheBitsOfTheReferenceDouble) { check_backward_matches_reference<double>(); }

TEST(MaxPool2dKernelTest, BackwardSendsEachGradientToTheFirstNaNElseTheFirstMaximum) {
  const auto g = pool(1, 2, 8, 2, 2, 0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Four windows: a tie (first of the two 3s), a NaN after the maximum, two NaNs, a later maximum.
  const std::vector<float> x{1, 3, 5, nan, nan, 0, 1, 2,  //
                             3, 2, 4, 9, nan, 9, 0, 4};
  const std::vector<float> dy{10, 20, 30, 40};
  std::vector<float> dx(x.size(), -1.0f);
  kernels::maxpool2d_backward(x.data(), dy.data(), g, dx.data());
  EXPECT_EQ(dx, (std::vector<float>{0, 10, 0, 20, 30, 0, 0, 0,  //
                                    0, 0, 0, 0, 0, 0, 0, 40}));
}

TEST(MaxPool2dKernelTest, PositionsFollowWindowChoice) {
  // Rows of 1 to 40 windows (the vector path 16 at a time, and its ragged ends), ties, and NaNs.
  for (std::size_t ew : {1, 5, 13, 16, 17, 40}) {
    const std::size_t width = 2 * ew + 1, eh = 3;
    Tensor<float> map = random_tensor<float>(Shape{2 * eh + 1, width}, ew);
    for (std::size_t i = 0; i < map.size(); i += 7) map.data()[i] = map.data()[i + 1];  // ties
    map.data()[width + 3] = std::numeric_limits<float>::quiet_NaN();
    map.data()[4 * width + 2] = std::numeric_limits<float>::quiet_NaN();
    map.data()[4 * width + 3] = std::numeric_limits<float>::quiet_NaN();
    std::vector<std::uint32_t> pos(eh * ew);
    kernels::maxpool2x2_positions(map.data(), width, eh, ew, pos.data());
    for (std::size_t oh = 0; oh < eh; ++oh)
      for (std::size_t ow = 0; ow < ew; ++ow) {
        const float* at = map.data() + 2 * oh * width + 2 * ow;
        const int k = kernels::baseline::detail::window_choice(at[0], at[1], at[width], at[width + 1]);
        const std::size_t expected = 2 * oh * width + 2 * ow + std::size_t(k / 2) * width + std::size_t(k % 2);
        EXPECT_EQ(pos[oh * ew + ow], expected) << "window (" << oh << ", " << ow << ") of rows of " << ew;
      }
  }
}

// A block of a larger map numbers its positions in that map (number_width, origin): the same as the
// whole map's positions of the block's windows.
TEST(MaxPool2dKernelTest, PositionsOfABlockAreThoseInTheWholeMap) {
  const std::size_t eh = 5, ew = 21, width = 2 * ew + 1;
  Tensor<float> map = random_tensor<float>(Shape{2 * eh + 1, width}, 3);
  for (std::size_t i = 0; i < map.size(); i += 5) map.data()[i] = map.data()[i + 1];  // ties
  map.data()[2 * width + 7] = std::numeric_limits<float>::quiet_NaN();
  std::vector<std::uint32_t> whole(eh * ew);
  kernels::maxpool2x2_positions(map.data(), width, eh, ew, whole.data());
  const std::size_t r0 = 1, c0 = 3, bh = 3, bw = 17;  // windows [1, 4) × [3, 20): 16 and one more per row
  // The block copied out, packed (as a convolution's output tile is).
  std::vector<float> tile(2 * bh * 2 * bw);
  for (std::size_t r = 0; r < 2 * bh; ++r)
    for (std::size_t c = 0; c < 2 * bw; ++c) tile[r * 2 * bw + c] = map(2 * r0 + r, 2 * c0 + c);
  std::vector<std::uint32_t> pos(bh * bw);
  std::vector<float> out(bh * bw);
  kernels::maxpool2x2_positions(tile.data(), 2 * bw, bh, bw, pos.data(), out.data(), width, 2 * r0 * width + 2 * c0);
  for (std::size_t r = 0; r < bh; ++r)
    for (std::size_t c = 0; c < bw; ++c) EXPECT_EQ(pos[r * bw + c], whole[(r0 + r) * ew + c0 + c]) << r << ", " << c;
}

}  // namespace
}  // namespace parcnn::test
