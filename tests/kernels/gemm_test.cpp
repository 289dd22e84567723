// gemm against a triple loop, with strided and transposed A, accumulation, and the property it exists
// for: any block of C computed alone has the same bits as in the whole product.
#include <parcnn/kernels/gemm.hpp>

#include <array>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class GemmTest : public ::testing::Test {};
TYPED_TEST_SUITE(GemmTest, Scalars);

const std::vector<std::array<std::size_t, 3>> gemm_shapes{{1, 1, 1},    {3, 5, 7},      {32, 676, 9},  {64, 121, 288},
                                                     {17, 33, 65}, {128, 9, 576},  {7, 16, 3},    {13, 32, 1},
                                                     {6, 48, 40},  {5, 100, 0},  {9, 24, 17}};  // one whole vector left

TYPED_TEST(GemmTest, MatchesTripleLoopWithStridesAndAccumulation) {
  using T = TypeParam;
  for (const auto& [M, N, K] : gemm_shapes) {
    SCOPED_TRACE(std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K));
    const std::size_t lda = K + 2, ldb = N + 1, ldc = N + 3;
    const Tensor<T> a = random_tensor<T>(Shape{M, lda}, 1), b = random_tensor<T>(Shape{std::max<std::size_t>(K, 1), ldb}, 2);
    const Tensor<T> at = random_tensor<T>(Shape{std::max<std::size_t>(K, 1), M}, 3);  // A = atᵀ: rsa 1, csa M
    Tensor<T> c(Shape{M, ldc}, T(-3)), ct(Shape{M, ldc}, T(0.5));
    kernels::gemm(M, N, K, a.data(), lda, b.data(), ldb, c.data(), ldc);
    kernels::gemm_strided(M, N, K, at.data(), 1, M, b.data(), ldb, ct.data(), ldc, /*accumulate=*/true);
    for (std::size_t i = 0; i < M; ++i) {
      for (std::size_t j = 0; j < N; ++j) {
        double sum = 0, sum_t = 0.5;
        for (std::size_t k = 0; k < K; ++k) {
          sum += double(a(i, k)) * double(b(k, j));
          sum_t += double(at(k, i)) * double(b(k, j));
        }
        const double tol = (std::is_same_v<T, float> ? 1e-5 : 1e-13) * std::max(1.0, std::sqrt(double(K)));
        ASSERT_NEAR(double(c(i, j)), sum, tol) << i << "," << j;
        ASSERT_NEAR(double(ct(i, j)), sum_t, tol) << i << "," << j;
      }
      for (std::size_t j = N; j < ldc; ++j) ASSERT_EQ(c(i, j), T(-3)) << "wrote past its row";
    }
  }
}

TYPED_TEST(GemmTest, AnyBlockHasTheBitsOfTheWholeProduct) {
  using T = TypeParam;
  for (const auto& [M, N, K] : gemm_shapes) {
    SCOPED_TRACE(std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K));
    const Tensor<T> a = random_tensor<T>(Shape{M, std::max<std::size_t>(K, 1)}, 4);
    const Tensor<T> b = random_tensor<T>(Shape{std::max<std::size_t>(K, 1), N}, 5);
    Tensor<T> whole(Shape{M, N});
    kernels::gemm(M, N, K, a.data(), K, b.data(), N, whole.data(), N);
    // Blocks of awkward sizes: rows in 1s, 4s and 7s; columns in 3s, 16s and 21s.
    for (std::size_t rb : {1, 4, 7})
      for (std::size_t cb : {3, 16, 21}) {
        Tensor<T> blocks(Shape{M, N}, T(99));
        for (std::size_t i = 0; i < M; i += rb)
          for (std::size_t j = 0; j < N; j += cb)
            kernels::gemm(std::min(rb, M - i), std::min(cb, N - j), K, a.data() + i * K, K, b.data() + j, N,
                          blocks.data() + i * N + j, N);
        ASSERT_TRUE(bitwise<T>(blocks, whole)) << "rows by " << rb << ", columns by " << cb;
      }
  }
}

}  // namespace
}  // namespace parcnn::test
