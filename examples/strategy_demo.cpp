// strategy_demo — the letter CNN forward under every parallel strategy and thread count: time (median
// of repeats), speed-up over the sequential run, parallel efficiency, and whether the results match
// the sequential run.
//
//   strategy_demo [--batch N] [--threads T] [--repeat R] [--strategies a,b,...] [--plan] [--json]
//
// --threads T runs thread counts 1..T (default: the machine's hardware threads). --plan prints, per
// layer, what Auto chooses and why (and, with "tuned" in --strategies, what the tuner measured).
// "tuned" measures a plan with parcnn::tune for each thread count before timing it. --json prints one
// JSON object per line instead of the table.
#include <parcnn/parcnn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli.hpp"

namespace {

// Median wall time of `repeat` forward passes (after one warm-up that sizes the workspace), in ms.
double median_ms(const parcnn::Sequential<float>& model, const parcnn::Tensor<float>& x, const parcnn::Strategy& s,
                 std::size_t repeat, parcnn::Tensor<float>& output) {
  parcnn::Workspace<float> ws;
  output = parcnn::Tensor<float>(model.forward(x, s, ws));
  std::vector<double> ms;
  for (std::size_t r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    model.forward(x, s, ws);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The letter CNN forward under every parallel strategy and thread count: time, speed-up, "
               "efficiency, and whether the results match the sequential run."};
  std::size_t batch = 64, threads = parcnn::hardware_threads(), repeat = 20;
  std::vector<std::string> strategies{"serial", "batch", "channel", "spatial", "tiled:4x4", "tiled:8x8x16", "auto", "tuned"};
  bool plan = false, json = false;
  app.add_option("--batch", batch, "images per forward")->check(CLI::Range(std::size_t(1), std::size_t(1) << 16))->capture_default_str();
  app.add_option("--threads", threads, "run thread counts 1 to T")->check(CLI::Range(std::size_t(1), std::size_t(4096)))->capture_default_str();
  app.add_option("--repeat", repeat, "timed runs per strategy")->check(CLI::Range(std::size_t(1), std::size_t(1000000)))->capture_default_str();
  app.add_option("--strategies", strategies, "comma-separated strategy names; tuned measures a plan first")
      ->delimiter(',')
      ->check(examples::strategy_name(true))
      ->capture_default_str();
  app.add_flag("--plan", plan, "print per layer what auto (and the tuner) chooses");
  app.add_flag("--json", json, "one JSON object per line instead of the table");
  if (const auto status = examples::parse(app, argc, argv)) return *status;
  struct {
    std::size_t batch, threads, repeat;
    bool json, plan;
  } const o{batch, threads, repeat, json, plan};

  const auto model = parcnn::models::letter_cnn<float>(26, /*seed=*/1);
  parcnn::Tensor<float> x(parcnn::Shape{o.batch, 1, 28, 28});
  parcnn::fill_uniform<float>(x, 0.0, 1.0, /*seed=*/2);

  // Warm up for about 0.3 s before timing anything: the first passes run on cold caches and, on many
  // machines, at a lower clock, and would make the baseline look slow and every speed-up too good.
  {
    parcnn::Workspace<float> ws;
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(300))
      model.forward(x, parcnn::strategy::Batch{}, ws);
  }

  // The baseline: the serial strategy on one thread.
  parcnn::Tensor<float> reference;
  const double base_ms = parcnn::with_threads(1, [&] {
    return median_ms(model, x, parcnn::strategy::Serial{}, o.repeat, reference);
  });

  if (!o.json) {
    std::printf("parcnn strategy demo: letter CNN forward, batch %zu, float32, %zu hardware threads, %s kernels, median of %zu runs\n",
                o.batch, parcnn::hardware_threads(), parcnn::kernels::isa_name(parcnn::kernels::active_isa()), o.repeat);
    std::printf("results match = same bits as the sequential run, or within 1e-5 relative (max |diff| shown)\n\n");
    std::printf("%-14s %7s %10s %10s %11s %11s  %s\n", "strategy", "threads", "time ms", "speed-up", "efficiency",
                "images/s", "results match");
  }
  for (std::size_t t = 1; t <= o.threads; ++t) {
    if (o.plan && !o.json) {
      std::printf("\n-- what auto chooses with %zu thread(s):\n%s\n", t,
                  model.plan(x.shape(), parcnn::strategy::Auto{}, parcnn::Pass::inference, parcnn::ExecutorProfile(t)).describe().c_str());
    }
    parcnn::strategy::Tuned plan;
    if (std::find(strategies.begin(), strategies.end(), "tuned") != strategies.end()) {
      plan = parcnn::with_threads(t, [&] { return parcnn::tune(model, x.shape()); });
      if (o.plan && !o.json)
        std::printf("-- what the tuner measured with %zu thread(s):\n%s\n", t, model.plan(x.shape(), plan, parcnn::Pass::inference, parcnn::ExecutorProfile(t)).describe().c_str());
    }
    for (const auto& name : strategies) {
      const parcnn::Strategy s = name == "tuned" ? parcnn::Strategy(plan) : parcnn::Strategy::parse(name);
      if (s.name() == "serial" && t > 1) continue;  // one thread whatever the arena
      parcnn::Tensor<float> y;
      const double ms = t == 1 && s.name() == "serial"
                            ? base_ms
                            : parcnn::with_threads(t, [&] { return median_ms(model, x, s, o.repeat, y); });
      if (y.empty()) y = reference;
      const bool bitwise = parcnn::bitwise_equal<float>(y, reference);
      const double diff = parcnn::max_abs_diff<float>(y, reference);
      double scale = 1;
      for (float v : reference) scale = std::max(scale, double(std::abs(v)));
      const bool match = bitwise || diff / scale <= 1e-5;
      const double speedup = base_ms / ms, efficiency = speedup / double(t);
      const double images_per_s = double(o.batch) / (ms / 1e3);
      if (o.json) {
        examples::print_json_line({{"strategy", s.name()},
                                   {"threads", t},
                                   {"batch", o.batch},
                                   {"ms", ms},
                                   {"speedup", speedup},
                                   {"efficiency", efficiency},
                                   {"images_per_second", images_per_s},
                                   {"match", match},
                                   {"bitwise", bitwise},
                                   {"max_abs_diff", diff}});
      } else {
        char how[64];
        if (t == 1 && s.name() == "serial") std::snprintf(how, sizeof how, "reference");
        else if (bitwise) std::snprintf(how, sizeof how, "True (bitwise)");
        else std::snprintf(how, sizeof how, "%s (max |diff| %.1e)", match ? "True" : "FALSE", diff);
        std::printf("%-14s %7zu %10.3f %9.2fx %10.1f%% %11.0f  %s\n", s.name().c_str(), t, ms, speedup,
                    100 * efficiency, images_per_s, how);
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
