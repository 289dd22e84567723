// tests/support/test_support.hpp — what every layer test shares: the strategies and thread counts to
// sweep, tolerances per scalar type, and NaN-aware comparisons with readable failure messages.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <oneapi/tbb/global_control.h>

#include <parcnn/parcnn.hpp>

namespace parcnn::test {

// Every strategy, with default and awkward parameters (blocks that do not divide the space).
inline std::vector<Strategy> all_strategies() {
  std::vector<Strategy> s;
  for (const char* name : {"sequential", "batch", "batch:3", "channel", "channel:5", "spatial", "spatial:2",
                           "tiled", "tiled:3x5", "tiled:4x4x7", "auto"})
    s.push_back(Strategy::parse(name));
  return s;
}

// 1, 2 and 3 threads. oneTBB caps its workers at the core count; the tests lift the cap so that a
// 3-thread arena really runs 3 threads on a 2-core machine.
inline const std::vector<std::size_t>& thread_counts() {
  static const tbb::global_control allow_three(tbb::global_control::max_allowed_parallelism,
                                               std::max<std::size_t>(3, hardware_threads()));
  static const std::vector<std::size_t> counts{1, 2, 3};
  return counts;
}

// Relative tolerance (to the largest magnitude of the expected tensor) for values summed over up to a
// few hundred terms.
template <class T>
constexpr double tolerance() {
  return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}

// max |a − e| / max(1, max |e|), with NaN positions required to agree.
template <class T>
::testing::AssertionResult near(TensorView<const T> actual, TensorView<const T> expected, double tol) {
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << actual.shape().str() << " vs " << expected.shape().str();
  double scale = 1, worst = 0;
  std::size_t worst_at = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double e = expected.data()[i], a = actual.data()[i];
    if (std::isnan(e) != std::isnan(a))
      return ::testing::AssertionFailure() << "NaN mismatch at flat index " << i << ": " << a << " vs " << e;
    if (!std::isnan(e)) scale = std::max(scale, std::abs(e));
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double e = expected.data()[i], a = actual.data()[i];
    if (std::isnan(e)) continue;
    const double d = std::isinf(e) ? (a == e ? 0.0 : INFINITY) : std::abs(a - e);
    if (d > worst) worst = d, worst_at = i;
  }
  if (worst / scale <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "relative error " << worst / scale << " > " << tol << " at flat index "
                                       << worst_at << ": " << actual.data()[worst_at] << " vs "
                                       << expected.data()[worst_at];
}

template <class T>
::testing::AssertionResult bitwise(TensorView<const T> actual, TensorView<const T> expected) {
  if (bitwise_equal<T>(actual, expected)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "not bitwise identical; max abs diff " << max_abs_diff<T>(actual, expected);
}

// Runs `layer` under every strategy and thread count and checks that it gives the same bits as its
// Sequential run, every time.
template <class T>
void expect_strategies_match_sequential(const Layer<T>& layer, TensorView<const T> input) {
  const Tensor<T> reference = layer.forward(input, strategy::Sequential{});
  for (const Strategy& s : all_strategies())
    for (std::size_t threads : thread_counts()) {
      SCOPED_TRACE(layer.name() + " " + input.shape().str() + " strategy " + s.name() + ", " + std::to_string(threads) +
                   " threads");
      Threads arena(threads);
      const Tensor<T> first = arena.run([&] { return layer.forward(input, s); });
      const Tensor<T> second = arena.run([&] { return layer.forward(input, s); });
      EXPECT_TRUE(bitwise<T>(first, second)) << "a strategy must be deterministic run to run";
      EXPECT_TRUE(bitwise<T>(first, reference));
    }
}

// A tensor of the given shape with values uniform in [lo, hi).
template <class T>
Tensor<T> random_tensor(const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Tensor<T> t(shape);
  fill_uniform<T>(t, lo, hi, seed);
  return t;
}

// Expects `f` to throw E whose message contains every one of `parts`.
template <class E = ShapeError, class F>
void expect_throw_with(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no exception thrown";
  } catch (const E& e) {
    const std::string what = e.what();
    for (const auto& p : parts) EXPECT_NE(what.find(p), std::string::npos) << "message '" << what << "' lacks '" << p << "'";
  }
}

using Scalars = ::testing::Types<float, double>;

}  // namespace parcnn::test
