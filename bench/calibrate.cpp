// calibrate — measures what this machine's cores cost, as a machine profile (parallel/machine_profile.hpp):
// a oneTBB fork-join and a team's hand-off on two workers, the round trip between them, and the
// kernels' one-core rates on the layers that set the reference defaults (docs/strategies.md, "The
// kernels' rates"). Prints each figure beside its default and writes the profile.
//
//   build/bench/calibrate [--out parcnn.machine-profile] [--repeat R]
//   ... then in a program:  parcnn::use_machine_profile(parcnn::MachineProfile::load("parcnn.machine-profile"));
//
// Each figure is the median of R timed runs (each run repeated to last about 0.2 ms); im2col's rates are
// not measured apart (they are folded into the convolutions' GEMM rate) and keep their defaults. Run it
// on a quiet machine: it measures whatever else is running too.
#include <parcnn/parcnn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

#include "../examples/cli.hpp"

namespace {

// Median nanoseconds of one call of f over `repeat` samples, each sample calling f enough times to
// last about 0.2 ms.
double median_ns(const std::function<void()>& f, std::size_t repeat) {
  using clock = std::chrono::steady_clock;
  f();  // warm-up: sizes workspaces
  std::size_t calls = 1;
  for (;;) {
    const auto t0 = clock::now();
    for (std::size_t i = 0; i < calls; ++i) f();
    if (std::chrono::duration<double, std::nano>(clock::now() - t0).count() > 2e5 || calls >= (1u << 20)) break;
    calls *= 2;
  }
  std::vector<double> samples;
  for (std::size_t r = 0; r < repeat; ++r) {
    const auto t0 = clock::now();
    for (std::size_t i = 0; i < calls; ++i) f();
    samples.push_back(std::chrono::duration<double, std::nano>(clock::now() - t0).count() / double(calls));
  }
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  return samples[samples.size() / 2];
}

// Nanoseconds of one forward of `layer` on input `in`, on one thread, cut by nothing.
double layer_ns(const parcnn::Layer<float>& layer, const parcnn::Shape& in, std::size_t repeat) {
  parcnn::Tensor<float> x(in), y(layer.output_shape(in));
  parcnn::fill_uniform<float>(x, -1.0, 1.0, 3);
  parcnn::Workspace<float> ws;
  parcnn::Executor one(1);
  return one.run([&] {
    return median_ns([&] { layer.forward(x.view(), y.view(), parcnn::strategy::Serial{}, ws); }, repeat);
  });
}

}  // namespace

int main(int argc, char** argv) {
  using namespace parcnn;
  CLI::App app{"Measures this machine's fork-join, hand-off and kernel rates; writes a machine profile."};
  std::string out = "parcnn.machine-profile";
  std::size_t repeat = 31;
  app.add_option("--out", out, "the profile file to write")->check(examples::writable_path())->capture_default_str();
  app.add_option("--repeat", repeat, "timed samples per figure (the median counts)")
      ->check(CLI::Range(std::size_t(3), std::size_t(10001)))
      ->capture_default_str();
  if (const auto code = examples::parse(app, argc, argv)) return *code;

  const MachineProfile defaults;
  MachineProfile p;
  const std::size_t workers = 2;  // as the reference figures were measured
  // What a cut of two blocks costs beyond the time of one: each block a fixed run of arithmetic (about
  // 5 µs), so that both workers really run one; the cut's time less one block's is the fork-join.
  auto spin = [](const Block&, std::size_t) {
    volatile double x = 1.0;
    for (int i = 0; i < 4000; ++i) x = x * 1.0000001 + 1e-9;
  };
  auto cut_cost = [&](std::size_t repeat_count) {
    const double one = median_ns([&] { spin(Block{}, 0); }, repeat_count);
    const double two = median_ns([&] { run_blocks(IndexSpace{2}, Cut{}, spin); }, repeat_count);
    return std::max(two - one, 1.0);
  };
  {  // through oneTBB: an executor without a team
    Executor lone(workers, ExecutorOptions{false, ExecutorOptions::default_linger});
    p.fork_join_ns = lone.run([&] { return cut_cost(repeat); });
  }
  {  // handed to a team's spinning helpers; and the round trip between the two workers, which the team
     // measures (again, up to ten times, where a busy machine keeps its helper from answering)
    Executor team(workers);
    p.team_fork_join_ns = team.run([&] {
      double ns = 0;
      Team::run(workers, [&] { ns = cut_cost(repeat); });
      return ns;
    });
    double hand_off = 0;
    for (int attempt = 0; attempt < 10 && hand_off <= 0; ++attempt) {
      hand_off = team.profile().hand_off_ns;
      if (hand_off <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(120));
    }
    if (hand_off > 0)
      p.reference_hand_off_ns = hand_off;
    else
      std::fprintf(stderr, "calibrate: the hand-off could not be measured (a busy machine?); kept the default\n");
  }

  // The kernels' rates, each from the layer whose reference measurement set its default.
  kernels::cost::Rates& r = p.rates;
  {
    const Conv2d<float> conv2(32, 64, 3);
    const Shape in{1, 32, 13, 13};
    r.gemm_flop_per_ns = conv2.workload(in).flops / layer_ns(conv2, in, repeat);
  }
  {
    const Linear<float> fc3(256, 26);
    const Shape in{64, 256};
    r.small_gemm_flop_per_ns = fc3.workload(in).flops / layer_ns(fc3, in, repeat);
    const Linear<float> fc1(128, 512);
    r.stream_bytes_per_ns = 4.0 * 128 * 512 / layer_ns(fc1, Shape{1, 128}, repeat);
  }
  {
    const Flatten<float> flatten;
    r.copy_bytes_per_ns = 2.0 * 4.0 * 256 * 128 / layer_ns(flatten, Shape{256, 128, 1, 1}, repeat);
  }
  {  // conv1 with its pool, fused, through the direct kernel
    Sequential<float> stage;
    stage.add("conv1", Conv2d<float>(1, 32, 3)).add("pool1", MaxPool2d<float>(2));
    const Shape in{64, 1, 28, 28};
    const kernels::PostOps e{{kernels::PostOp::Kind::max_pool_2x2}};
    const auto g = stage.get<Conv2d<float>>("conv1").geometry(in);
    r.direct_conv_ns_per_vector_fma = layer_ns(stage, in, repeat) / kernels::conv2d_direct_vector_fmas<float>(g, e, 64);
  }
  {
    const GELU<float> gelu(GeluApproximation::tanh);
    r.gelu_ns_per_value = layer_ns(gelu, Shape{256, 512}, repeat) / (256.0 * 512);
    const LogSoftmax<float> log_softmax;
    r.log_softmax_ns_per_value = layer_ns(log_softmax, Shape{256, 26}, repeat) / (256.0 * 26);
  }
  {
    const MaxPool2d<float> pool(2);
    r.max_pool_ns_per_row = layer_ns(pool, Shape{64, 32, 26, 26}, repeat) / (64.0 * 32 * 13);
    r.max_pool_ns_per_single_window = layer_ns(pool, Shape{64, 128, 3, 3}, repeat) / (64.0 * 128);
  }

  std::printf("%-32s %12s %12s %7s\n", "figure", "default", "measured", "ratio");
  const std::string measured = p.text(), reference = defaults.text();
  std::istringstream a(reference), b(measured);
  for (std::string la, lb; std::getline(a, la) && std::getline(b, lb);) {
    if (la.empty() || la[0] == '#') continue;
    const std::size_t eq = la.find('=');
    const double d = std::stod(la.substr(eq + 1)), m = std::stod(lb.substr(lb.find('=') + 1));
    std::printf("%-32s %12.4g %12.4g %7.2f\n", la.substr(0, eq - 1).c_str(), d, m, m / d);
  }
  std::ofstream file(out);
  file << "# measured by bench/calibrate (" << workers << " workers, median of " << repeat << " samples each)\n"
       << measured;
  if (!file.flush()) {
    std::fprintf(stderr, "calibrate: cannot write %s\n", out.c_str());
    return 1;
  }
  std::printf("wrote %s\n", out.c_str());
  return 0;
}
