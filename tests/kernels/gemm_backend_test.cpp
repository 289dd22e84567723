// Eigen's products as parcnn's kernels call them (kernels/gemm_backend.hpp): against triple loops,
// with strides, and the backend names.
#include <parcnn/kernels/gemm_backend.hpp>

#include <array>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class GemmBackendTest : public ::testing::Test {};
TYPED_TEST_SUITE(GemmBackendTest, Scalars);

TYPED_TEST(GemmBackendTest, EigensProductMatchesTripleLoopWithStrides) {
  using T = TypeParam;
  for (const auto& [M, N, K] : std::vector<std::array<std::size_t, 3>>{{1, 1, 1}, {3, 5, 7}, {32, 676, 9}, {17, 33, 65},
                                                                       {64, 121, 288}, {5, 100, 0}}) {
    SCOPED_TRACE(std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K));
    const std::size_t lda = K + 2, ldb = N + 1, ldc = N + 3;
    const Tensor<T> a = random_tensor<T>(Shape{M, lda}, 1), b = random_tensor<T>(Shape{std::max<std::size_t>(K, 1), ldb}, 2);
    Tensor<T> c(Shape{M, ldc}, T(-3));
    kernels::gemm_eigen(M, N, K, a.data(), lda, b.data(), ldb, c.data(), ldc);
    for (std::size_t i = 0; i < M; ++i) {
      for (std::size_t j = 0; j < N; ++j) {
        double sum = 0;
        for (std::size_t k = 0; k < K; ++k) sum += double(a(i, k)) * double(b(k, j));
        ASSERT_NEAR(double(c(i, j)), sum, (std::is_same_v<T, float> ? 1e-5 : 1e-13) * std::max(1.0, std::sqrt(double(K))));
      }
      for (std::size_t j = N; j < ldc; ++j) ASSERT_EQ(c(i, j), T(-3)) << "wrote past its row";
    }
  }
}

TYPED_TEST(GemmBackendTest, EigensLinearBlockMatchesTheReference) {
  using T = TypeParam;
  const std::size_t N = 7, in = 33, out = 17;
  const Tensor<T> x = random_tensor<T>(Shape{N, in}, 3), w = random_tensor<T>(Shape{out, in}, 4), b = random_tensor<T>(Shape{out}, 5);
  Tensor<T> expected(Shape{N, out}), y(Shape{N, out}, T(99));
  kernels::linear_forward_reference(x.data(), w.data(), b.data(), N, in, out, expected.data());
  kernels::linear_eigen(x.data(), w.data(), b.data(), in, out, 2, 4, 3, 9, y.data());  // rows 2..5, features 3..11
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-13;
  for (std::size_t r = 0; r < N; ++r)
    for (std::size_t f = 0; f < out; ++f) {
      if (r >= 2 && r < 6 && f >= 3 && f < 12)
        EXPECT_NEAR(double(y(r, f)), double(expected(r, f)), tol);
      else
        EXPECT_EQ(y(r, f), T(99)) << "wrote outside its block";
    }
}

TEST(GemmBackendNameTest, ParsesBothAndRejectsOthers) {
  EXPECT_EQ(kernels::parse_gemm_backend("parcnn"), kernels::GemmBackend::parcnn);
  EXPECT_EQ(kernels::parse_gemm_backend(kernels::gemm_backend_name(kernels::GemmBackend::eigen)), kernels::GemmBackend::eigen);
  expect_throw_with<ConfigError>([] { kernels::parse_gemm_backend("blas"); }, {"'blas'", "parcnn or eigen"});
}

}  // namespace
}  // namespace parcnn::test
