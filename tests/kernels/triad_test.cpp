// triad: a = b + s·c against a plain loop, for lengths around the vector width.
#include <parcnn/kernels/triad.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(TriadTest, MatchesAPlainLoopForAnyLength) {
  for (std::size_t n : {0, 1, 7, 15, 16, 17, 33, 100}) {
    std::vector<float> a(n + 1, -7.0f), b(n), c(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = float(i) * 0.25f, c[i] = 3.0f - float(i);
    kernels::triad(a.data(), b.data(), c.data(), 0.5f, n);
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(a[i], b[i] + 0.5f * c[i]) << "n " << n << ", i " << i;
    EXPECT_EQ(a[n], -7.0f) << "wrote past n = " << n;
  }
}

}  // namespace
}  // namespace parcnn::test
