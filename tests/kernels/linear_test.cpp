// The linear kernels against the reference on many shapes (K below, at and past a vector, odd
// everything), and the property the layer's strategies rely on: any block of rows × features computed
// alone has the same bits as in the whole product.
#include <parcnn/kernels/linear.hpp>

#include <array>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class LinearKernelTest : public ::testing::Test {};
TYPED_TEST_SUITE(LinearKernelTest, Scalars);

// batch, in, out
const std::vector<std::array<std::size_t, 3>> linear_shapes{{1, 1, 1},   {1, 128, 512}, {7, 13, 5},   {3, 16, 4},  {5, 17, 9},
                                                     {9, 31, 33}, {64, 512, 26}, {2, 100, 7},  {7, 8, 3},   {4, 64, 4}};

TYPED_TEST(LinearKernelTest, ForwardMatchesReferenceAndBlocksMatchTheWhole) {
  using T = TypeParam;
  std::uint64_t seed = 1;
  for (const auto& [N, in, out] : linear_shapes) {
    SCOPED_TRACE(std::to_string(N) + "x" + std::to_string(in) + "->" + std::to_string(out));
    const Tensor<T> x = random_tensor<T>(Shape{N, in}, seed++), w = random_tensor<T>(Shape{out, in}, seed++),
                    b = random_tensor<T>(Shape{out}, seed++);
    for (const T* bias : {b.data(), static_cast<const T*>(nullptr)}) {
      Tensor<T> whole(Shape{N, out}, T(-7)), ref(Shape{N, out});
      kernels::linear_forward(x.data(), w.data(), bias, in, out, Range{0, N}, Range{0, out}, whole.data());
      kernels::linear_forward_reference(x.data(), w.data(), bias, N, in, out, ref.data());
      EXPECT_TRUE(near<T>(whole, ref, tolerance<T>() * std::max(1.0, std::sqrt(double(in)))));
      // Blocks of 1, 2, 3 and 5 rows × features, each computed on its own.
      for (std::size_t step : {1, 2, 3, 5}) {
        Tensor<T> blocks(Shape{N, out}, T(9));
        for (std::size_t r = 0; r < N; r += step)
          for (std::size_t f = 0; f < out; f += step)
            kernels::linear_forward(x.data(), w.data(), bias, in, out, Range{r, std::min(N, r + step)},
                                    Range{f, std::min(out, f + step)}, blocks.data());
        EXPECT_TRUE(bitwise<T>(blocks, whole)) << "blocks of " << step;
      }
    }
  }
}

TYPED_TEST(LinearKernelTest, EmptyBlockWritesNothing) {
  using T = TypeParam;
  const Tensor<T> x = random_tensor<T>(Shape{2, 3}, 1), w = random_tensor<T>(Shape{4, 3}, 2);
  Tensor<T> y(Shape{2, 4}, T(5));
  kernels::linear_forward(x.data(), w.data(), static_cast<const T*>(nullptr), 3, 4, Range{1, 1}, Range{0, 4}, y.data());
  kernels::linear_forward(x.data(), w.data(), static_cast<const T*>(nullptr), 3, 4, Range{0, 2}, Range{2, 2}, y.data());
  for (std::size_t i = 0; i < y.size(); ++i) EXPECT_EQ(y.data()[i], T(5));
}

}  // namespace
}  // namespace parcnn::test
