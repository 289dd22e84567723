// tests/support/test_support.hpp — what every layer test shares: the strategies and thread counts to
// sweep, tolerances per scalar type, and NaN-aware comparisons with readable failure messages.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>
#include <system_error>
#include <string>
#include <vector>

#include <unistd.h>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>

#include <parcnn/parcnn.hpp>

namespace parcnn::test {

// Every strategy, with default and awkward parameters (blocks that do not divide the space).
inline std::vector<Strategy> all_strategies() {
  std::vector<Strategy> s;
  for (const char* name : {"serial", "batch", "batch:3", "channel", "channel:5", "spatial", "spatial:2",
                           "tiled", "tiled:3x5", "tiled:4x4x7", "auto"})
    s.push_back(Strategy::parse(name));
  return s;
}

// Runs f() on a thread of its own and, when it has not returned within `limit`, ends the test program
// at once with a message naming `what` (exit code 1): a deadlock fails in seconds instead of hanging CI
// until its timeout. An exception from f is rethrown here.
template <class F>
void finishes_within(std::chrono::seconds limit, const std::string& what, F&& f) {
  std::packaged_task<void()> task(std::forward<F>(f));
  std::future<void> done = task.get_future();
  std::thread runner(std::move(task));
  if (done.wait_for(limit) != std::future_status::ready) {
    std::fprintf(stderr, "FAILED: %s did not finish within %lld s (a deadlock)\n", what.c_str(),
                 static_cast<long long>(limit.count()));
    std::fflush(stderr);
    std::_Exit(1);
  }
  runner.join();
  done.get();
}

// tbb::parallel_for over [0, n), as a user's own loop runs it, with the order oneTBB guarantees (the
// loop's body after what preceded the loop, the loop's end after every body) told to ThreadSanitizer.
template <class F>
void users_parallel_for(int n, F&& f) {
  detail::happens_before(&f);
  tbb::parallel_for(0, n, [&](int i) {
    detail::happens_after(&f);
    f(i);
    detail::happens_before(&n);
  });
  detail::happens_after(&n);
}

// One tensor of a safetensors header: "name": {"dtype": "F32", "shape": shape, "data_offsets": [begin, end]}.
inline std::string safetensors_entry(const char* name, const char* shape, int begin, int end) {
  return std::string("\"") + name + "\": {\"dtype\": \"F32\", \"shape\": " + shape + ", \"data_offsets\": [" +
         std::to_string(begin) + ", " + std::to_string(end) + "]}";
}

// Writes a safetensors file at `path`: the JSON object of `entries` (safetensors_entry, comma-separated)
// as its header, then `data_bytes` zero bytes of data.
inline void write_safetensors(const std::string& path, const std::string& entries, std::size_t data_bytes) {
  const std::string header = "{" + entries + "}";
  std::string bytes(8, '\0');
  const std::uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  bytes += header;
  bytes.resize(bytes.size() + data_bytes, '\0');
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// A file name in this test process's own temporary directory, removed with everything in it when the
// process ends.
inline std::string temp_path(const std::string& name) {
  struct Directory {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("parcnn_test_" + std::to_string(::getpid()));
    Directory() { std::filesystem::create_directories(path); }
    ~Directory() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Directory directory;
  return (directory.path / name).string();
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
  const Tensor<T> reference = layer.forward(input, strategy::Serial{});
  for (const Strategy& s : all_strategies())
    for (std::size_t threads : thread_counts()) {
      SCOPED_TRACE(layer.name() + " " + input.shape().str() + " strategy " + s.name() + ", " + std::to_string(threads) +
                   " threads");
      Executor arena(threads);
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

// The layer a post-op stands for: MaxPool2d(2), GELU, GELU(tanh), ReLU.
template <class T>
std::unique_ptr<Layer<T>> layer_of(const kernels::PostOp& op) {
  switch (op.kind) {
    case kernels::PostOp::Kind::max_pool_2x2: return std::make_unique<MaxPool2d<T>>(2);
    case kernels::PostOp::Kind::gelu: return std::make_unique<GELU<T>>();
    case kernels::PostOp::Kind::gelu_tanh: return std::make_unique<GELU<T>>(GeluApproximation::tanh);
    case kernels::PostOp::Kind::relu: return std::make_unique<ReLU<T>>();
    case kernels::PostOp::Kind::leaky_relu: return std::make_unique<LeakyReLU<T>>(op.slope);
    case kernels::PostOp::Kind::sigmoid: return std::make_unique<Sigmoid<T>>();
    case kernels::PostOp::Kind::tanh: return std::make_unique<Tanh<T>>();
  }
  return nullptr;
}

// Expects `f` to throw E whose message contains every one of `parts`.
// A separable toy problem on the letter CNN's input (1×28×28), 4 classes: the class is which quarter of
// the image is bright. Seeded: the same batch for the same seed.
inline void toy_batch(std::size_t batch, std::uint64_t seed, Tensor<float>& images, std::vector<std::size_t>& labels) {
  images = random_tensor<float>(Shape{batch, 1, 28, 28}, seed, 0.0, 0.3);
  labels.resize(batch);
  for (std::size_t n = 0; n < batch; ++n) {
    labels[n] = (seed * 7 + n * 3) % 4;
    const std::size_t r0 = labels[n] / 2 * 14, c0 = labels[n] % 2 * 14;
    for (std::size_t r = r0; r < r0 + 14; ++r)
      for (std::size_t c = c0; c < c0 + 14; ++c) images(n, 0, r, c) += 0.7f;
  }
}

// A small CNN for model-level tests: conv 3×3 (padding 1) in_c -> mid_c, max-pool 2, GELU, flatten,
// Linear to `classes`, for square inputs of side `image`; fixed weights.
inline Sequential<float> small_cnn(std::size_t in_c, std::size_t mid_c, std::size_t image, std::size_t classes) {
  Sequential<float> m;
  Conv2d<float> conv(in_c, mid_c, 3, 1, 1);
  fill_uniform<float>(conv.weight(), -0.3, 0.3, 1);
  Linear<float> fc(mid_c * (image / 2) * (image / 2), classes);
  fill_uniform<float>(fc.weight(), -0.2, 0.2, 2);
  m.add("conv", conv).add("pool", MaxPool2d<float>(2)).add("act", GELU<float>()).add("flat", Flatten<float>());
  m.add("fc", fc);
  return m;
}

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

namespace parcnn::test {

// Runs backward of `layer` at input x with output gradient `grad_out`, in chunks of `chunk_images`;
// returns the input gradient followed by the reduced gradient of each parameter.
template <class T>
std::vector<Tensor<T>> run_backward(const Layer<T>& layer, const Tensor<T>& x, const Tensor<T>& grad_out,
                                    std::size_t chunk_images) {
  Workspace<T> ws;  // forward_for_backward leaves in it what a composite layer's backward needs
  Tensor<T> out(layer.output_shape(x.shape()));
  layer.forward_for_backward(x, out.view(), strategy::Serial{}, ws);
  GradientChunks<T> chunks;
  chunks.plan(layer.parameter_shapes(), x.dim(0), chunk_images);
  std::vector<Tensor<T>> result;
  result.emplace_back(x.shape());
  layer.backward(x, out, grad_out, result[0].view(), GradientSlice<T>{&chunks, 0}, ws);
  std::vector<TensorView<T>> views;
  for (const Shape& s : layer.parameter_shapes()) result.emplace_back(s);
  for (std::size_t i = 1; i < result.size(); ++i) views.push_back(result[i].view());
  reduce_chunks(chunks, views);
  return result;
}

// Checks backward against finite differences of L(x, θ) = Σ forward_for_backward(x) ⊙ R (R random; the
// layer's mode decides which pass that is), for the input and every parameter (up to `samples` elements
// of each, spread over the tensor), and checks that the gradients are the same bits with 1, 2 and 3
// threads and with other chunk sizes' input gradients.
inline void expect_gradients_match_finite_differences(Layer<double>& layer, const Tensor<double>& x,
                                                      double tol = 1e-6, std::size_t samples = 40) {
  const Tensor<double> R = random_tensor<double>(layer.output_shape(x.shape()), 99);
  auto loss = [&](const Tensor<double>& input) {
    Tensor<double> y(layer.output_shape(input.shape()));
    Workspace<double> ws;
    layer.forward_for_backward(input, y.view(), strategy::Serial{}, ws);
    double sum = 0;
    for (std::size_t i = 0; i < y.size(); ++i) sum += y.data()[i] * R.data()[i];
    return sum;
  };
  const std::vector<Tensor<double>> grads = run_backward<double>(layer, x, R, 2);
  // Fourth-order central differences, (−L(+2h) + 8 L(+h) − 8 L(−h) + L(−2h)) / 12h: truncation O(h⁴), so
  // h can be large enough that rounding in L (about 1e-16 · |L| / h) stays far below the tolerance.
  const double h = 1e-4;
  auto check = [&](const std::string& what, double* value, std::size_t count, const Tensor<double>& analytic,
                   const Tensor<double>& input) {
    const std::size_t step = std::max<std::size_t>(1, count / samples);
    for (std::size_t i = 0; i < count; i += step) {
      const double saved = value[i];
      auto at = [&](double offset) {
        value[i] = saved + offset;
        const double l = loss(input);
        value[i] = saved;
        return l;
      };
      const double numeric = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h), a = analytic.data()[i];
      const double err = std::abs(a - numeric) / std::max({std::abs(a), std::abs(numeric), 1e-3});
      EXPECT_LE(err, tol) << layer.name() << " d/d" << what << "[" << i << "]: backward " << a << ", finite difference "
                          << numeric;
    }
  };
  Tensor<double> probe(x.view());
  check("input", probe.data(), probe.size(), grads[0], probe);
  std::vector<NamedParameter<double>> params = layer.parameters();
  for (std::size_t p = 0; p < params.size(); ++p)
    check(params[p].name, params[p].tensor->data(), params[p].tensor->size(), grads[p + 1], probe);

  for (std::size_t threads : thread_counts())
    for (std::size_t chunk : {1, 2, 3}) {
      const std::vector<Tensor<double>> again =
          Executor(threads).run([&] { return run_backward<double>(layer, x, R, chunk); });
      EXPECT_TRUE(bitwise<double>(again[0], grads[0])) << "input gradient, " << threads << " threads, chunk " << chunk;
      if (chunk == 2) {
        for (std::size_t p = 1; p < again.size(); ++p)
          EXPECT_TRUE(bitwise<double>(again[p], grads[p])) << "parameter " << p << ", " << threads << " threads";
      }
    }
}

}  // namespace parcnn::test
