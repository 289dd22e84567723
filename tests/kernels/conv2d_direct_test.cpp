// The direct convolution for small patches: the bits of the im2col GEMM path (conv2d_forward_epilogue,
// itself checked against the kernels apart), within rounding of the plain reference, in every block cut,
// with padding, odd sizes, channel counts off the register tile, NaN inputs and both epilogue forms;
// and what it records of the pool for a training pass.
#include <parcnn/kernels/conv2d.hpp>
#include <parcnn/kernels/conv2d_direct.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

kernels::Conv2dGeometry conv(std::size_t in_c, std::size_t in_h, std::size_t in_w, std::size_t out_c, std::size_t k_h,
                             std::size_t k_w, std::size_t pad_h = 0, std::size_t pad_w = 0) {
  kernels::Conv2dGeometry g;
  g.in_c = in_c, g.in_h = in_h, g.in_w = in_w, g.out_c = out_c, g.k_h = k_h, g.k_w = k_w, g.pad_h = pad_h,
  g.pad_w = pad_w;
  g.out_h = in_h + 2 * pad_h - k_h + 1;
  g.out_w = in_w + 2 * pad_w - k_w + 1;
  return g;
}

std::string describe(const kernels::Conv2dGeometry& g, const kernels::PostOps& e) {
  return std::to_string(g.in_c) + "x" + std::to_string(g.in_h) + "x" + std::to_string(g.in_w) + " -> " +
         std::to_string(g.out_c) + " k" + std::to_string(g.k_h) + "x" + std::to_string(g.k_w) + " pad " +
         std::to_string(g.pad_h) + "," + std::to_string(g.pad_w) + " then " + e.str();
}

// Three cuts of each dimension of the epilogue output: whole, halves, and ones of a single row or
// column at either end (the partial vectors and the spill into the next row are at the edges).
std::vector<std::vector<Range>> cuts(std::size_t n) {
  std::vector<std::vector<Range>> c{{{0, n}}};
  if (n > 1) c.push_back({{0, n / 2}, {n / 2, n}});
  if (n > 2) c.push_back({{0, 1}, {1, n - 1}, {n - 1, n}});
  return c;
}

template <class T>
void check_direct_matches_gemm_path() {
  // The letter CNN's conv1 (1→32, 3×3 at 28²), odd maps and channel counts, padding, wide rows (more
  // than one vector of pooled columns), a 1×1 and a 5×5 patch, 3 input channels (RGB 3×3: K = 27).
  const std::vector<kernels::Conv2dGeometry> shapes{
      conv(1, 28, 28, 32, 3, 3), conv(1, 9, 11, 5, 3, 3),     conv(2, 8, 7, 13, 3, 2, 1, 1), conv(3, 13, 41, 9, 3, 3, 1, 1),
      conv(1, 6, 70, 3, 1, 1),   conv(1, 12, 10, 8, 5, 5, 2, 2), conv(3, 5, 5, 4, 3, 3, 2, 0),
  };
  using K = kernels::PostOp::Kind;
  const kernels::PostOps none, pool{{K::max_pool_2x2}}, gelu{{K::gelu_tanh}}, pool_gelu{{K::max_pool_2x2}, {K::gelu}},
      pool_relu{{K::max_pool_2x2}, {K::relu}};
  const std::size_t images = 2;
  std::uint64_t seed = 40;
  for (const auto& g : shapes)
    for (const auto& e : {none, pool, gelu, pool_gelu, pool_relu}) {
      ASSERT_TRUE(kernels::conv2d_direct_fits(g));
      if (e.pools() && (g.out_h < 2 || g.out_w < 2)) continue;
      SCOPED_TRACE(describe(g, e));
      Tensor<T> x = random_tensor<T>(Shape{images, g.in_c, g.in_h, g.in_w}, seed++);
      x(1, g.in_c - 1, g.in_h / 2, g.in_w - 1) = std::numeric_limits<T>::quiet_NaN();
      const Tensor<T> w = random_tensor<T>(Shape{g.out_c, g.patch()}, seed++);
      const Tensor<T> b = random_tensor<T>(Shape{g.out_c}, seed++);
      const std::size_t eh = kernels::epilogue_out_h(g, e), ew = kernels::epilogue_out_w(g, e);
      const Range all_c{0, g.out_c}, all_h{0, eh}, all_w{0, ew};

      Tensor<T> expected(Shape{images, g.out_c, eh, ew});
      std::vector<T> gemm_scratch(kernels::conv2d_epilogue_scratch<T>(g, e, g.out_c, 1, eh, ew));
      for (std::size_t n = 0; n < images; ++n)
        kernels::conv2d_forward_epilogue(x.data() + n * g.in_image(), 1, w.data(), b.data(), g, e, all_c, all_h, all_w,
                                         gemm_scratch.data(), expected.data() + n * g.out_c * eh * ew);

      // Within rounding of the plain loops (the NaN spreads to the same outputs), so that agreeing
      // with the GEMM path is not agreeing with a shared mistake.
      if (e.empty()) {
        Tensor<T> reference(expected.shape());
        kernels::conv2d_forward_reference(x.data(), w.data(), b.data(), g, images, reference.data());
        Tensor<T> direct(expected.shape());
        std::vector<T> scratch(kernels::conv2d_direct_scratch<T>(g, e, eh, ew));
        for (std::size_t n = 0; n < images; ++n)
          kernels::conv2d_forward_direct(x.data() + n * g.in_image(), w.data(), b.data(), g, e, all_c, all_h, all_w,
                                         scratch.data(), direct.data() + n * g.out_c * eh * ew);
        EXPECT_TRUE(near<T>(direct, reference, tolerance<T>()));
      }

      for (const auto& channels : cuts(g.out_c))
        for (const auto& rows : cuts(eh))
          for (const auto& cols : cuts(ew)) {
            Tensor<T> direct(expected.shape());
            std::fill(direct.begin(), direct.end(), T(-7));
            for (const Range& c : channels)
              for (const Range& r : rows)
                for (const Range& q : cols) {
                  // Exactly the scratch the block asks for, so that reading past it shows under ASan.
                  std::vector<T> scratch(kernels::conv2d_direct_scratch<T>(g, e, r.size(), q.size()));
                  for (std::size_t n = 0; n < images; ++n)
                    kernels::conv2d_forward_direct(x.data() + n * g.in_image(), w.data(), b.data(), g, e, c, r, q,
                                                   scratch.data(), direct.data() + n * g.out_c * eh * ew);
                }
            ASSERT_TRUE(bitwise<T>(direct, expected))
                << channels.size() << " x " << rows.size() << " x " << cols.size() << " blocks";
          }
    }
}

// For a training pass (EpilogueRecord): each window's position and the pooled values before GELU, as
// maxpool2x2_positions finds them on the convolution's whole output, and the output of the plain
// epilogue — in every block cut, with NaN and with ties (a channel of zero weights: every output is its
// bias, so every window takes its first value).
template <class T>
void check_direct_records_the_pool_for_backward() {
  const std::vector<kernels::Conv2dGeometry> shapes{conv(1, 28, 28, 32, 3, 3), conv(1, 9, 11, 5, 3, 3),
                                                    conv(2, 8, 7, 13, 3, 2, 1, 1), conv(3, 13, 41, 9, 3, 3, 1, 1),
                                                    conv(1, 12, 10, 8, 5, 5, 2, 2)};
  using K = kernels::PostOp::Kind;
  const kernels::PostOps none, pool{{K::max_pool_2x2}}, pool_gelu{{K::max_pool_2x2}, {K::gelu}},
      pool_relu{{K::max_pool_2x2}, {K::relu}};
  const std::size_t images = 2;
  std::uint64_t seed = 70;
  for (const auto& g : shapes)
    for (const auto& e : {pool, pool_gelu, pool_relu}) {
      SCOPED_TRACE(describe(g, e));
      Tensor<T> x = random_tensor<T>(Shape{images, g.in_c, g.in_h, g.in_w}, seed++);
      x(1, g.in_c - 1, g.in_h / 2, g.in_w - 1) = std::numeric_limits<T>::quiet_NaN();
      Tensor<T> w = random_tensor<T>(Shape{g.out_c, g.patch()}, seed++);
      std::fill_n(w.data() + (g.out_c - 1) * g.patch(), g.patch(), T(0));  // the last channel: all ties
      const Tensor<T> b = random_tensor<T>(Shape{g.out_c}, seed++);
      const std::size_t eh = kernels::epilogue_out_h(g, e), ew = kernels::epilogue_out_w(g, e), J = eh * ew;

      Tensor<T> map(Shape{images, g.out_c, g.out_h, g.out_w}), pooled(Shape{images, g.out_c, eh, ew});
      std::vector<T> scratch(kernels::conv2d_direct_scratch<T>(g, none, g.out_h, g.out_w));
      std::vector<std::uint32_t> positions(images * g.out_c * J);
      for (std::size_t n = 0; n < images; ++n)
        kernels::conv2d_forward_direct(x.data() + n * g.in_image(), w.data(), b.data(), g, none, Range{0, g.out_c},
                                       Range{0, g.out_h}, Range{0, g.out_w}, scratch.data(), map.data() + n * g.out_image());
      for (std::size_t plane = 0; plane < images * g.out_c; ++plane)
        kernels::maxpool2x2_positions(map.data() + plane * g.out_h * g.out_w, g.out_w, eh, ew,
                                      positions.data() + plane * J, pooled.data() + plane * J);
      Tensor<T> expected(pooled.shape());
      std::vector<T> gemm_scratch(kernels::conv2d_epilogue_scratch<T>(g, e, g.out_c, 1, eh, ew));
      for (std::size_t n = 0; n < images; ++n)
        kernels::conv2d_forward_epilogue(x.data() + n * g.in_image(), 1, w.data(), b.data(), g, e, Range{0, g.out_c},
                                         Range{0, eh}, Range{0, ew}, gemm_scratch.data(), expected.data() + n * g.out_c * J);

      for (const auto& channels : cuts(g.out_c))
        for (const auto& rows : cuts(eh))
          for (const auto& cols : cuts(ew)) {
            Tensor<T> out(expected.shape()), kept(expected.shape());
            std::vector<std::uint32_t> pos(positions.size(), 0xFFFFFFFFu);
            std::fill(out.begin(), out.end(), T(-7));
            std::fill(kept.begin(), kept.end(), T(-7));
            for (const Range& c : channels)
              for (const Range& r : rows)
                for (const Range& q : cols) {
                  std::vector<T> block_scratch(kernels::conv2d_direct_scratch<T>(g, e, r.size(), q.size()));
                  for (std::size_t n = 0; n < images; ++n)
                    kernels::conv2d_forward_direct(
                        x.data() + n * g.in_image(), w.data(), b.data(), g, e, c, r, q, block_scratch.data(),
                        out.data() + n * g.out_c * J,
                        kernels::EpilogueRecord<T>{pos.data() + n * g.out_c * J,
                                                   e.has_elementwise() ? kept.data() + n * g.out_c * J : nullptr});
                }
            const std::string blocks =
                std::to_string(channels.size()) + " x " + std::to_string(rows.size()) + " x " + std::to_string(cols.size());
            ASSERT_TRUE(bitwise<T>(out, expected)) << blocks << " blocks";
            ASSERT_EQ(pos, positions) << blocks << " blocks";
            if (e.has_elementwise()) {
              ASSERT_TRUE(bitwise<T>(kept, pooled)) << blocks << " blocks";
            }
          }
    }
}

TEST(Conv2dDirectKernelTest, RecordsThePoolForBackwardFloat) { check_direct_records_the_pool_for_backward<float>(); }
TEST(Conv2dDirectKernelTest, RecordsThePoolForBackwardDouble) { check_direct_records_the_pool_for_backward<double>(); }

TEST(Conv2dDirectKernelTest, HasTheBitsOfTheGemmPathFloat) { check_direct_matches_gemm_path<float>(); }
TEST(Conv2dDirectKernelTest, HasTheBitsOfTheGemmPathDouble) { check_direct_matches_gemm_path<double>(); }

TEST(Conv2dDirectKernelTest, TakesSmallPatchesAtStrideOneOnly) {
  EXPECT_TRUE(kernels::conv2d_direct_fits(conv(1, 28, 28, 32, 3, 3)));
  EXPECT_TRUE(kernels::conv2d_direct_fits(conv(3, 28, 28, 32, 3, 3)));  // K = 27
  EXPECT_FALSE(kernels::conv2d_direct_fits(conv(4, 28, 28, 32, 3, 3)));  // K = 36
  EXPECT_FALSE(kernels::conv2d_direct_fits(conv(32, 13, 13, 64, 3, 3)));  // conv2: the GEMM's
  kernels::Conv2dGeometry strided = conv(1, 28, 28, 32, 3, 3);
  strided.stride_w = 2;
  EXPECT_FALSE(kernels::conv2d_direct_fits(strided));
}

}  // namespace
}  // namespace parcnn::test
