// gemm and gemv against triple loops, with row strides wider than the matrices.
#include <parcnn/kernels/gemm.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class GemmTest : public ::testing::Test {};
TYPED_TEST_SUITE(GemmTest, Scalars);

TYPED_TEST(GemmTest, MatchesTripleLoop) {
  using T = TypeParam;
  for (const auto& [M, N, K] : std::vector<std::array<std::size_t, 3>>{
           {1, 1, 1}, {3, 5, 7}, {32, 676, 9}, {64, 121, 288}, {17, 33, 65}, {128, 9, 576}}) {
    const std::size_t lda = K + 2, ldb = N + 1, ldc = N + 3;
    const Tensor<T> a = random_tensor<T>(Shape{M, lda}, 1), b = random_tensor<T>(Shape{K, ldb}, 2);
    Tensor<T> c(Shape{M, ldc}, T(-3));
    kernels::gemm(M, N, K, a.data(), lda, b.data(), ldb, c.data(), ldc);
    for (std::size_t i = 0; i < M; ++i) {
      for (std::size_t j = 0; j < N; ++j) {
        double sum = 0;
        for (std::size_t k = 0; k < K; ++k) sum += double(a(i, k)) * double(b(k, j));
        ASSERT_NEAR(double(c(i, j)), sum, 1e-4 * std::sqrt(double(K))) << M << "x" << N << "x" << K;
      }
      for (std::size_t j = N; j < ldc; ++j) ASSERT_EQ(c(i, j), T(-3)) << "wrote past its row";
    }
    std::vector<T> y(M);
    kernels::gemv(M, K, a.data(), lda, b.data(), y.data());  // first row of b as the vector
    for (std::size_t i = 0; i < M; ++i) {
      double sum = 0;
      for (std::size_t k = 0; k < K; ++k) sum += double(a(i, k)) * double(b.data()[k]);
      ASSERT_NEAR(double(y[i]), sum, 1e-4 * std::sqrt(double(K)));
    }
  }
}

}  // namespace
}  // namespace parcnn::test
