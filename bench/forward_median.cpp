// The letter CNN forward as a user's program runs it: median milliseconds of 200 forwards (after 20 to
// warm up) at batch B on T threads, and the instruction set the kernels chose. Compiled by
// bench/flags_compare.sh with different flags, outside parcnn's own build.   forward_median [B] [T]
#include <parcnn/parcnn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  const std::size_t batch = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 64;
  const std::size_t threads = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 2;
  const auto model = parcnn::models::letter_cnn<float>(26, /*seed=*/1);
  parcnn::Tensor<float> x(parcnn::Shape{batch, 1, 28, 28});
  parcnn::fill_uniform<float>(x, 0.0, 1.0, /*seed=*/2);
  parcnn::Executor executor(threads);
  const parcnn::Plan plan = model.plan(x.shape(), parcnn::strategy::Auto{}, executor);
  parcnn::Workspace<float> ws;
  std::vector<double> ms;
  for (int i = 0; i < 220; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    model.forward(x, plan, ws, executor);
    if (i >= 20) ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  std::printf("%s %.3f\n", parcnn::kernels::isa_name(parcnn::kernels::active_isa()), ms[ms.size() / 2]);
}
