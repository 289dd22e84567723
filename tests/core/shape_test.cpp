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
}

}  // namespace
}  // namespace parcnn::test
