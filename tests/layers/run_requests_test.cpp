// run_requests: requests of different batch and image sizes through a fully convolutional model, the
// bits of the model's forward under either schedule and any thread count; estimates that grow with the
// work; clear errors.
#include <parcnn/layers/adaptive_avgpool2d.hpp>
#include <parcnn/layers/run_requests.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

Sequential<float> fully_convolutional() {
  Sequential<float> m;
  Conv2d<float> a(3, 6, 3, 1, 1), b(6, 4, 3, 1, 1);
  fill_uniform<float>(a.weight(), -0.4, 0.4, 1);
  fill_uniform<float>(b.weight(), -0.4, 0.4, 2);
  m.add("a", a).add("relu", ReLU<float>()).add("b", b).add("gap", AdaptiveAvgPool2d<float>(1)).add("flat", Flatten<float>());
  return m;
}

TEST(RunRequestsTest, GivesTheBitsOfTheForwardUnderEitherSchedule) {
  const Sequential<float> m = fully_convolutional();
  std::vector<Tensor<float>> in, expected;
  for (std::size_t i = 0; i < 23; ++i) {
    in.push_back(random_tensor<float>(Shape{1 + i % 4, 3, 4 + (i * 5) % 17, 3 + (i * 3) % 11}, 20 + i));
    expected.push_back(m.forward(in.back(), strategy::Serial{}));
  }
  for (Schedule s : {Schedule::longest_first, Schedule::work_stealing})
    for (std::size_t threads : {1, 2, 3}) {
      std::vector<Tensor<float>> out;
      for (const auto& e : expected) out.emplace_back(e.shape());
      std::vector<TensorView<const float>> iv(in.begin(), in.end());
      std::vector<TensorView<float>> ov;
      for (auto& t : out) ov.push_back(t.view());
      std::vector<Workspace<float>> ws;
      Executor e(threads);
      const ScheduleTrace trace = e.run([&] { return run_requests(m, iv, ov, ws, s); });
      EXPECT_EQ(trace.worker.size(), in.size());
      EXPECT_GE(ws.size(), threads);
      for (std::size_t i = 0; i < in.size(); ++i)
        EXPECT_TRUE(bitwise<float>(out[i], expected[i])) << schedule_name(s) << ", " << threads << " threads, request " << i;
    }
}

TEST(RunRequestsTest, EstimatesGrowWithTheWork) {
  const Sequential<float> m = fully_convolutional();
  const double small = estimated_request_ns(m, Shape{1, 3, 8, 8});
  EXPECT_GT(small, 0);
  EXPECT_GT(estimated_request_ns(m, Shape{4, 3, 8, 8}), 3 * small);
  EXPECT_GT(estimated_request_ns(m, Shape{1, 3, 32, 32}), 3 * small);  // 16 times the positions; fixed costs too
}

TEST(RunRequestsTest, RefusesMismatchedOutputs) {
  const Sequential<float> m = fully_convolutional();
  const Tensor<float> x = random_tensor<float>(Shape{2, 3, 8, 8}, 1);
  Tensor<float> wrong(Shape{2, 5});
  std::vector<Workspace<float>> ws;
  expect_throw_with<ShapeError>([&] { run_requests(m, {x.view()}, {wrong.view()}, ws); }, {"output 0 is [2, 5]", "[2, 4]"});
  expect_throw_with<ConfigError>([&] { run_requests(m, {x.view()}, {}, ws); }, {"1 inputs and 0 outputs"});
  Tensor<float> bad_in(Shape{1, 2, 8, 8}), out(Shape{1, 4});
  expect_throw_with<ShapeError>([&] { run_requests(m, {bad_in.view()}, {out.view()}, ws); }, {"'a'"});
}

}  // namespace
}  // namespace parcnn::test
