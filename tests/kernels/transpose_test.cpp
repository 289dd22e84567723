// transpose against element-by-element indexing on shapes around its 16 × 16 tiles: below, at and past
// one tile in each direction, tall and wide, and the convolution backward's shapes.
#include <parcnn/kernels/transpose.hpp>

#include <array>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class TransposeTest : public ::testing::Test {};
TYPED_TEST_SUITE(TransposeTest, Scalars);

TYPED_TEST(TransposeTest, EveryElementLandsAtItsTransposedPlace) {
  using T = TypeParam;
  const std::vector<std::array<std::size_t, 2>> shapes{{1, 1},   {1, 37},  {37, 1},  {15, 15}, {16, 16},  {17, 16},
                                                       {16, 17}, {32, 48}, {33, 47}, {3, 40},  {40, 3},   {9, 5408},
                                                       {288, 968}, {576, 72}, {64, 16}, {16, 64}};
  std::uint64_t seed = 1;
  for (const auto& [rows, cols] : shapes) {
    SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols));
    const Tensor<T> a = random_tensor<T>(Shape{rows, cols}, seed++);
    Tensor<T> out(Shape{cols + 1, rows}, T(-7));  // one row more: nothing may be written past [cols, rows]
    kernels::transpose(a.data(), rows, cols, out.data());
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < cols; ++j) ASSERT_EQ(out(j, i), a(i, j)) << "element " << i << ", " << j;
    for (std::size_t i = 0; i < rows; ++i) ASSERT_EQ(out(cols, i), T(-7)) << "written past the end";
  }
}

}  // namespace
}  // namespace parcnn::test
