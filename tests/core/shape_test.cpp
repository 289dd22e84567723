#include <parcnn/core/shape.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(ShapeTest, RankSizesAndText) {
  const Shape s{8, 16, 13, 13};
  EXPECT_EQ(s.rank(), 4u);
  EXPECT_EQ(s.numel(), 8u * 16 * 13 * 13);
  EXPECT_EQ(s.inner_numel(), 16u * 13 * 13);
  EXPECT_EQ(s.str(), "[8, 16, 13, 13]");
  EXPECT_EQ(s.with_batch(3), (Shape{3, 16, 13, 13}));
  EXPECT_EQ(Shape{5}.numel(), 5u);
  EXPECT_EQ(Shape().numel(), 0u);
  EXPECT_EQ(Shape().str(), "[]");
  EXPECT_TRUE((Shape{2, 0, 3}).has_zero_dim());
  EXPECT_NE((Shape{2, 3}), (Shape{2, 3, 1}));
}

TEST(ShapeTest, RejectsRanksOutsideOneToFour) {
  EXPECT_THROW((Shape{1, 2, 3, 4, 5}), ShapeError);
  EXPECT_THROW(Shape(std::initializer_list<std::size_t>{}), ShapeError);
  EXPECT_THROW(Shape(std::vector<std::size_t>(5, 1)), ShapeError);
  EXPECT_THROW(Shape(std::vector<std::size_t>{}), ShapeError);
}

// Sizes known only at run time give the same shape as the braced list.
TEST(ShapeTest, FromARuntimeListOfSizes) {
  std::vector<std::size_t> sizes{7, 3};
  sizes.push_back(28);
  EXPECT_EQ(Shape(sizes), (Shape{7, 3, 28}));
  EXPECT_EQ(Shape(sizes).numel(), 588u);
}

// Sizes whose element count does not fit (2^32 × 2^32 wrapped to 0 and made a tensor of no memory):
// a ShapeError naming the shape, from the constructor and from numel() after a dimension is set.
TEST(ShapeTest, AnElementCountAbove2To60IsAnError) {
  const std::size_t big = std::size_t(1) << 32;
  expect_throw_with([&] { Shape{big, big}; }, {"[4294967296, 4294967296]", "2^60"});
  expect_throw_with([&] { Shape{big, big, 32, 9}; }, {"2^60"});
  EXPECT_EQ((Shape{std::size_t(1) << 30, std::size_t(1) << 30}).numel(), std::size_t(1) << 60);
  EXPECT_THROW((Shape{std::size_t(1) << 30, std::size_t(1) << 31}), ShapeError);
  EXPECT_EQ((Shape{big, 0, big}).numel(), 0u);  // nothing to hold
  Shape s{4, 4};
  s[1] = std::size_t(1) << 62;
  EXPECT_THROW(s.numel(), ShapeError);
  EXPECT_THROW(s.inner_numel(), ShapeError);
  EXPECT_THROW(Tensor<float>(Shape{big, big}), ShapeError);
}

}  // namespace
}  // namespace parcnn::test
