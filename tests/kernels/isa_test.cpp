// The instruction set the kernels run with: parsed from PARCNN_ISA, never above what the CPU runs, and
// each instruction set's copy of the kernels, called directly, agrees with the reference.
#include <parcnn/kernels/isa.hpp>
#include <parcnn/kernels/dispatch.hpp>

#include <cstdlib>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(IsaTest, ParsesTheThreeNamesAndRejectsOthers) {
  for (kernels::Isa isa : {kernels::Isa::baseline, kernels::Isa::avx2, kernels::Isa::avx512})
    EXPECT_EQ(kernels::parse_isa(kernels::isa_name(isa)), isa);
  expect_throw_with<ConfigError>([] { kernels::parse_isa("sse4"); }, {"'sse4'", "PARCNN_ISA", "avx512, avx2 or baseline"});
  expect_throw_with<ConfigError>([] { kernels::parse_isa(""); }, {"PARCNN_ISA"});
}

TEST(IsaTest, ActiveIsTheCpusBestCappedByTheEnvironment) {
  const kernels::Isa cpu = kernels::detected_isa(), active = kernels::active_isa();
  EXPECT_LE(active, cpu);
  const char* cap = std::getenv("PARCNN_ISA");
  if (cap && *cap) {
    const kernels::Isa capped = kernels::parse_isa(cap);
    EXPECT_EQ(active, capped < cpu ? capped : cpu);
  } else {
    EXPECT_EQ(active, cpu);
  }
}

TEST(IsaTest, EachTargetsVectorsAreOneRegister) {
  EXPECT_EQ(kernels::baseline::detail::Vec<float>::lanes, 4);
  EXPECT_EQ(kernels::baseline::detail::Vec<double>::lanes, 2);
#if PARCNN_X86_TARGETS
  EXPECT_EQ(kernels::avx2::detail::Vec<float>::lanes, 8);
  EXPECT_EQ(kernels::avx512::detail::Vec<float>::lanes, 16);
  EXPECT_EQ(kernels::avx512::detail::Vec<double>::lanes, 8);
#endif
}

// Every copy this CPU runs, called by name whatever PARCNN_ISA says: GEMM and the linear forward
// against the triple loop.
template <class Gemm, class Linear>
void expect_matches_reference(Gemm gemm, Linear linear_forward, const char* name) {
  SCOPED_TRACE(name);
  const std::size_t M = 13, N = 37, K = 29;
  const Tensor<float> a = random_tensor<float>(Shape{M, K}, 1), b = random_tensor<float>(Shape{K, N}, 2);
  const Tensor<float> w = random_tensor<float>(Shape{N, K}, 3);
  Tensor<float> c(Shape{M, N}), y(Shape{M, N});
  gemm(a.data(), b.data(), c.data());
  linear_forward(a.data(), w.data(), y.data());
  for (std::size_t i = 0; i < M; ++i)
    for (std::size_t j = 0; j < N; ++j) {
      double ab = 0, aw = 0;
      for (std::size_t k = 0; k < K; ++k) {
        ab += double(a(i, k)) * double(b(k, j));
        aw += double(a(i, k)) * double(w(j, k));
      }
      ASSERT_NEAR(c(i, j), ab, 1e-5) << i << "," << j;
      ASSERT_NEAR(y(i, j), aw, 1e-5) << i << "," << j;
    }
}

#define PARCNN_EXPECT_TARGET_MATCHES(target)                                                                   \
  expect_matches_reference(                                                                                    \
      [](const float* a, const float* b, float* c) { kernels::target::gemm<float>(13, 37, 29, a, 29, b, 37, c, 37); }, \
      [](const float* x, const float* w, float* y) {                                                          \
        kernels::target::linear_forward<float>(x, w, nullptr, 29, 37, Range{0, 13}, Range{0, 37}, y);          \
      },                                                                                                       \
      #target)

TEST(IsaTest, EveryTargetThisCpuRunsMatchesTheReference) {
  PARCNN_EXPECT_TARGET_MATCHES(baseline);
#if PARCNN_X86_TARGETS
  if (kernels::detected_isa() >= kernels::Isa::avx2) PARCNN_EXPECT_TARGET_MATCHES(avx2);
  if (kernels::detected_isa() >= kernels::Isa::avx512) PARCNN_EXPECT_TARGET_MATCHES(avx512);
#endif
}

}  // namespace
}  // namespace parcnn::test
