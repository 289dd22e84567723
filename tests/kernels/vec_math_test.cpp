// The kernels' vector exp and erf (kernels/vec_math.hpp) against the C library in long double, in every
// instruction set this CPU runs: across the whole range, at its ends (subnormal results, overflow to
// infinity, 0 below), and NaN.
#include <parcnn/kernels/vec_math.hpp>

#include <cmath>
#include <functional>
#include <limits>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
using SpanKernel = std::function<void(const T*, T*, std::size_t)>;

template <class T>
struct Copies {
  const char* name;
  SpanKernel<T> exp, erf;
};

template <class T>
std::vector<Copies<T>> copies_this_cpu_runs() {
  std::vector<Copies<T>> c{{"baseline", kernels::baseline::vector_exp<T>, kernels::baseline::vector_erf<T>}};
#if PARCNN_X86_TARGETS
  if (kernels::detected_isa() >= kernels::Isa::avx2)
    c.push_back({"avx2", kernels::avx2::vector_exp<T>, kernels::avx2::vector_erf<T>});
  if (kernels::detected_isa() >= kernels::Isa::avx512)
    c.push_back({"avx512", kernels::avx512::vector_exp<T>, kernels::avx512::vector_erf<T>});
#endif
  return c;
}

template <class T>
class VecMathTest : public ::testing::Test {};
TYPED_TEST_SUITE(VecMathTest, Scalars);

TYPED_TEST(VecMathTest, ExpIsWithinTwoUlpsOverTheWholeRange) {
  using T = TypeParam;
  const T ulp = std::numeric_limits<T>::epsilon();
  const double lo = std::is_same_v<T, float> ? -110.0 : -760.0, hi = std::is_same_v<T, float> ? 95.0 : 715.0;
  std::vector<T> x;
  for (double v = lo; v <= hi; v += (hi - lo) / 200003) x.push_back(T(v));
  for (T v : {T(0), T(-0.0), std::numeric_limits<T>::min(), T(1e-30), T(-1e-30), std::log(std::numeric_limits<T>::max()),
              std::nextafter(std::log(std::numeric_limits<T>::max()), T(1000)), std::numeric_limits<T>::infinity(),
              -std::numeric_limits<T>::infinity()})
    x.push_back(v);
  for (const auto& c : copies_this_cpu_runs<T>()) {
    SCOPED_TRACE(c.name);
    std::vector<T> y(x.size());
    c.exp(x.data(), y.data(), x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const long double r = std::exp((long double)x[i]);
      if (r > (long double)std::numeric_limits<T>::max()) {
        ASSERT_EQ(y[i], std::numeric_limits<T>::infinity()) << "exp(" << x[i] << ")";
      } else if (r < (long double)std::numeric_limits<T>::min()) {  // subnormal or 0: within two of the smallest step
        ASSERT_NEAR((long double)y[i], r, 2.0L * (long double)std::numeric_limits<T>::denorm_min()) << "exp(" << x[i] << ")";
      } else {
        ASSERT_NEAR((long double)y[i] / r, 1.0L, 2.0L * (long double)ulp) << "exp(" << x[i] << ")";
      }
    }
    const T nan = std::numeric_limits<T>::quiet_NaN();
    T n[1] = {nan};
    c.exp(n, n, 1);
    EXPECT_TRUE(std::isnan(n[0]));
  }
}

TYPED_TEST(VecMathTest, ErfIsWithinItsBoundOverTheWholeRange) {
  using T = TypeParam;
  const double bound = std::is_same_v<T, float> ? 2.5e-7 : 4.5e-16;  // absolute: float's fit, double's libm
  std::vector<T> x;
  for (double v = -7; v <= 7; v += 14.0 / 100003) x.push_back(T(v));
  for (T v : {T(0), T(-0.0), T(1), T(-1), T(4), T(-4), T(1e-30), std::numeric_limits<T>::infinity(),
              -std::numeric_limits<T>::infinity()})
    x.push_back(v);
  for (const auto& c : copies_this_cpu_runs<T>()) {
    SCOPED_TRACE(c.name);
    std::vector<T> y(x.size());
    c.erf(x.data(), y.data(), x.size());
    for (std::size_t i = 0; i < x.size(); ++i)
      ASSERT_NEAR(double(y[i]), double(std::erf((long double)x[i])), bound) << "erf(" << x[i] << ")";
    EXPECT_EQ(std::signbit(y[x.size() - 8]), true) << "erf(-0) is -0";
    const T nan = std::numeric_limits<T>::quiet_NaN();
    T n[1] = {nan};
    c.erf(n, n, 1);
    EXPECT_TRUE(std::isnan(n[0]));
  }
}

}  // namespace
}  // namespace parcnn::test
