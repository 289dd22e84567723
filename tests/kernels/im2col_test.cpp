// im2col against a patch-by-patch extraction, for whole images and for blocks of positions; col2im
// against an entry-by-entry scatter.
#include <parcnn/kernels/im2col.hpp>

#include <cstring>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

kernels::Conv2dGeometry geometry(std::size_t c, std::size_t h, std::size_t w, std::size_t kh, std::size_t kw,
                                 std::size_t s, std::size_t p, std::size_t dh = 1, std::size_t dw = 1) {
  kernels::Conv2dGeometry g;
  g.in_c = c, g.in_h = h, g.in_w = w, g.k_h = kh, g.k_w = kw, g.stride_h = g.stride_w = s, g.pad_h = g.pad_w = p;
  g.dil_h = dh, g.dil_w = dw;
  g.out_h = (h + 2 * p - dh * (kh - 1) - 1) / s + 1;
  g.out_w = (w + 2 * p - dw * (kw - 1) - 1) / s + 1;
  return g;
}

// Dilated: square and not, with and without padding and stride, rows of 16 values or fewer (where
// undilated ones take the short-row paths).
const kernels::Conv2dGeometry dilated[] = {
    geometry(2, 9, 9, 3, 3, 1, 0, 2, 2), geometry(3, 10, 12, 3, 2, 1, 2, 2, 3), geometry(2, 11, 13, 3, 3, 2, 1, 3, 1),
    geometry(1, 7, 16, 2, 4, 1, 3, 1, 2)};

// Rows of 1 to 38 elements: the row copy's whole vectors and its masked tail, in float and double;
// short rows built a vector at a time, blocks of more than 64 vectors (148 × 7 outputs) row by row.
template <class T>
void check_against_patch_extraction() {
  for (const auto& g : {geometry(1, 5, 5, 3, 3, 1, 0), geometry(3, 7, 9, 3, 3, 2, 1), geometry(2, 6, 5, 2, 3, 1, 2),
                        geometry(5, 4, 4, 1, 1, 1, 0), geometry(2, 9, 9, 5, 5, 3, 2), geometry(2, 5, 40, 3, 3, 1, 1),
                        geometry(1, 28, 28, 3, 3, 1, 0), geometry(3, 4, 17, 1, 1, 1, 0),
                        // Short rows at stride 1 (whole vectors permuted from the input): conv2 and conv3
                        // of the letter CNN on fewer channels, rows of 2 to 16 values, a 2 × 4 kernel.
                        geometry(3, 13, 13, 3, 3, 1, 0), geometry(2, 5, 5, 3, 3, 1, 0), geometry(2, 11, 18, 2, 4, 1, 0),
                        geometry(1, 150, 9, 3, 3, 1, 0), dilated[0], dilated[1], dilated[2],
                        dilated[3],
                        // Rows of up to 16 values at stride 1 and 2, padded (a vector per row, masked):
                        // a small ResNet's stride-2 3×3 and 1×1, its 7×7 maps; 16 and 17 values a row.
                        geometry(3, 28, 28, 3, 3, 2, 1), geometry(2, 14, 14, 1, 1, 2, 0), geometry(3, 7, 7, 3, 3, 1, 1),
                        geometry(2, 33, 33, 3, 3, 2, 1), geometry(2, 16, 16, 3, 3, 1, 1), geometry(2, 34, 35, 3, 3, 2, 1)}) {
    const Tensor<T> x = random_tensor<T>(Shape{g.in_c, g.in_h, g.in_w}, 1);
    for (const auto& [rows, cols] : {std::pair{Range{0, g.out_h}, Range{0, g.out_w}},
                                     std::pair{Range{1, g.out_h}, Range{0, 1}},
                                     std::pair{Range{1, g.out_h}, Range{0, g.out_w}},  // whole rows, not all
                                     std::pair{Range{0, 1}, Range{g.out_w / 2, g.out_w}},
                                     std::pair{Range{0, g.out_h - 1}, Range{0, g.out_w - 1}},  // a fused 2×2 pool's
                                     std::pair{Range{1, g.out_h}, Range{1, g.out_w}}}) {        // part rows, offset
      const std::size_t P = rows.size() * cols.size(), ld = P + 3;  // a wider row stride must be honoured
      std::vector<T> out(g.patch() * ld, T(-7));
      kernels::im2col(x.data(), g, rows, cols, out.data(), ld);
      for (std::size_t ci = 0; ci < g.in_c; ++ci)
        for (std::size_t ky = 0; ky < g.k_h; ++ky)
          for (std::size_t kx = 0; kx < g.k_w; ++kx)
            for (std::size_t oh = rows.begin; oh < rows.end; ++oh)
              for (std::size_t ow = cols.begin; ow < cols.end; ++ow) {
                const long ih = long(oh * g.stride_h + ky * g.dil_h) - long(g.pad_h);
                const long iw = long(ow * g.stride_w + kx * g.dil_w) - long(g.pad_w);
                const bool inside = ih >= 0 && iw >= 0 && ih < long(g.in_h) && iw < long(g.in_w);
                const T expected = inside ? x(ci, std::size_t(ih), std::size_t(iw)) : T(0);
                const std::size_t k = (ci * g.k_h + ky) * g.k_w + kx, p = (oh - rows.begin) * cols.size() + ow - cols.begin;
                ASSERT_EQ(out[k * ld + p], expected) << "k " << k << " position " << p;
              }
      for (std::size_t k = 0; k < g.patch(); ++k)
        for (std::size_t p = P; p < ld; ++p) ASSERT_EQ(out[k * ld + p], T(-7)) << "wrote past its row";
    }
  }
}

TEST(Im2colTest, ShortRowsGoAWholeVectorAtATimeWhereTheirInputsSpanTwoVectors) {
#if defined(__AVX512F__)
  const auto conv2 = geometry(32, 13, 13, 3, 3, 1, 0), conv3 = geometry(64, 5, 5, 3, 3, 1, 0);
  EXPECT_EQ(kernels::im2col_short_row_vectors<float>(conv2, 10, 10), 7u);  // with its pool: 100 positions
  EXPECT_EQ(kernels::im2col_short_row_vectors<float>(conv2, 11, 11), 8u);
  EXPECT_EQ(kernels::im2col_short_row_vectors<float>(conv3, 2, 2), 1u);    // 4 positions span 8 inputs
  EXPECT_EQ(kernels::im2col_short_row_vectors<float>(conv3, 3, 2), 1u);    // 6 span 5 + 3·3 = 14
  // 16 positions in rows of 2 out of 5: 15 + 8·3 = 39 inputs apart.
  EXPECT_EQ(kernels::im2col_short_row_vectors<float>(geometry(1, 10, 5, 3, 3, 1, 0), 8, 2), 0u);
  EXPECT_EQ(kernels::im2col_short_row_vectors<double>(conv2, 10, 10), 0u);
  EXPECT_EQ(kernels::im2col_short_row_vectors<float>(geometry(1, 28, 28, 3, 3, 1, 0), 26, 26), 0u);  // long rows
  EXPECT_EQ(kernels::im2col_short_row_vectors<float>(geometry(1, 9, 9, 3, 3, 1, 1), 9, 9), 0u);       // padding
#else
  GTEST_SKIP() << "the short-row path needs AVX-512";
#endif
}

// col2im against its definition, entry by entry with bounds checks, in the same order (k, then
// position): the same bits, for strides 1 to 3, paddings 0 to 3 and dilations 1 to 3; image rows of up
// to 32 values from k-rows of up to 16 (added in one or two registers: strides 1, 2 and 3, dilated, rows
// of 16, 18, 20, 28, 31 and 32 values), and rows past those bounds (in_w 33 and 40).
template <class T>
void check_col2im_against_scatter() {
  for (const auto& g : {geometry(1, 5, 5, 3, 3, 1, 0), geometry(3, 7, 9, 3, 3, 2, 1), geometry(2, 6, 5, 2, 3, 1, 2),
                        geometry(5, 4, 4, 1, 1, 1, 0), geometry(2, 9, 9, 5, 5, 3, 2), geometry(2, 5, 40, 3, 3, 1, 1),
                        geometry(4, 13, 13, 3, 3, 1, 0), geometry(2, 11, 18, 2, 4, 1, 0), dilated[0],
                        dilated[1], dilated[2], dilated[3], geometry(3, 28, 28, 3, 3, 2, 1), geometry(2, 14, 14, 1, 1, 2, 0),
                        geometry(2, 32, 31, 3, 3, 2, 1), geometry(2, 33, 33, 3, 3, 2, 1), geometry(2, 6, 20, 3, 5, 1, 0),
                        geometry(2, 8, 32, 2, 2, 2, 0), geometry(3, 16, 16, 3, 3, 1, 1)}) {
    const std::size_t P = g.out_h * g.out_w, ld = P + 5;
    const Tensor<T> cols = random_tensor<T>(Shape{g.patch(), ld}, 3);
    std::vector<T> expected(g.in_image(), T(0)), actual(g.in_image(), T(-7));
    for (std::size_t ci = 0; ci < g.in_c; ++ci)
      for (std::size_t ky = 0; ky < g.k_h; ++ky)
        for (std::size_t kx = 0; kx < g.k_w; ++kx)
          for (std::size_t oh = 0; oh < g.out_h; ++oh)
            for (std::size_t ow = 0; ow < g.out_w; ++ow) {
              const long ih = long(oh * g.stride_h + ky * g.dil_h) - long(g.pad_h);
              const long iw = long(ow * g.stride_w + kx * g.dil_w) - long(g.pad_w);
              if (ih < 0 || iw < 0 || ih >= long(g.in_h) || iw >= long(g.in_w)) continue;
              const std::size_t k = (ci * g.k_h + ky) * g.k_w + kx;
              expected[(ci * g.in_h + std::size_t(ih)) * g.in_w + std::size_t(iw)] += cols.data()[k * ld + oh * g.out_w + ow];
            }
    kernels::col2im(cols.data(), ld, g, actual.data());
    for (std::size_t i = 0; i < expected.size(); ++i)
      ASSERT_EQ(std::memcmp(&actual[i], &expected[i], sizeof(T)), 0) << "element " << i << ": " << actual[i] << " vs "
                                                                      << expected[i];
  }
}

TEST(Im2colTest, Col2imHasTheBitsOfTheScatterFloat) { check_col2im_against_scatter<float>(); }
TEST(Im2colTest, Col2imHasTheBitsOfTheScatterDouble) { check_col2im_against_scatter<double>(); }

TEST(Im2colTest, MatchesPatchExtractionForAnyBlockFloat) { check_against_patch_extraction<float>(); }
TEST(Im2colTest, MatchesPatchExtractionForAnyBlockDouble) { check_against_patch_extraction<double>(); }

}  // namespace
}  // namespace parcnn::test
