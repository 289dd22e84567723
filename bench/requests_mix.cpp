// requests_mix — a skewed mix of requests (batch sizes 1–8, images 16² to 64²: costs over 100x apart)
// through a fully convolutional model, three ways on the same threads:
//   longest-first  run_requests, each request whole on one worker, largest (estimated) first
//   work-stealing  run_requests, each request whole on one worker, oneTBB's parallel_for in the order given
//   one by one     each request in turn cut over all the workers (strategy::Auto)
// for the requests in a random order and sorted smallest first (the largest last: the worst order for
// a schedule blind to sizes). Prints per way the makespan, its lower bound max(total / workers,
// longest request) from the same run's request times, their ratio, the imbalance (busiest worker over
// the mean) and each worker's busy time; medians of --rounds alternating rounds after one untimed round.
// The outputs of all ways are checked bitwise against each other.
//
//   requests_mix [--requests 64] [--threads 2] [--rounds 5] [--seed 1]
#include <parcnn/parcnn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "../examples/cli.hpp"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

parcnn::Sequential<float> fully_convolutional() {
  parcnn::Sequential<float> m;
  m.add("conv1", parcnn::Conv2d<float>(3, 16, 3, 1, 1)).add("relu1", parcnn::ReLU<float>());
  m.add("conv2", parcnn::Conv2d<float>(16, 32, 3, 2, 1)).add("relu2", parcnn::ReLU<float>());
  m.add("conv3", parcnn::Conv2d<float>(32, 32, 3, 1, 1)).add("relu3", parcnn::ReLU<float>());
  m.add("gap", parcnn::AdaptiveAvgPool2d<float>(1)).add("flat", parcnn::Flatten<float>());
  m.add("fc", parcnn::Linear<float>(32, 10));
  m.reset_parameters(3);
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A skewed mix of requests, scheduled longest first, by work stealing, and one by one; prints the figures."};
  std::size_t requests = 64, threads = parcnn::hardware_threads(), rounds = 5, seed = 1;
  app.add_option("--requests", requests, "requests in the mix")->check(CLI::Range(std::size_t(1), std::size_t(1) << 14))->capture_default_str();
  app.add_option("--threads", threads, "threads")->check(CLI::Range(std::size_t(1), std::size_t(4096)))->capture_default_str();
  app.add_option("--rounds", rounds, "timed rounds of each")->check(CLI::Range(std::size_t(1), std::size_t(1000)))->capture_default_str();
  app.add_option("--seed", seed, "seed of the mix")->capture_default_str();
  if (const auto status = examples::parse(app, argc, argv)) return *status;

  try {
    const parcnn::Sequential<float> model = fully_convolutional();
    std::mt19937_64 rng(seed);
    const std::size_t batches[] = {1, 2, 4, 8}, sides[] = {16, 24, 32, 48, 64};
    std::vector<parcnn::Tensor<float>> in, out_lpt, out_ws, out_each;
    for (std::size_t r = 0; r < requests; ++r) {
      const std::size_t b = batches[rng() % 4], side = sides[rng() % 5];
      in.emplace_back(parcnn::Shape{b, 3, side, side});
      parcnn::fill_uniform<float>(in.back(), -1.0, 1.0, seed + r);
      const parcnn::Shape o = model.output_shape(in.back().shape());
      out_lpt.emplace_back(o), out_ws.emplace_back(o), out_each.emplace_back(o);
    }
    std::vector<double> est;
    for (const auto& x : in) est.push_back(parcnn::estimated_request_ns(model, x.shape()));
    std::printf("%zu requests (batch 1-8, images 16^2-64^2; estimated %.0f to %.0f us each, %.0fx apart), %zu thread(s), "
                "medians of %zu rounds\n",
                requests, *std::min_element(est.begin(), est.end()) / 1e3, *std::max_element(est.begin(), est.end()) / 1e3,
                *std::max_element(est.begin(), est.end()) / *std::min_element(est.begin(), est.end()), threads, rounds);

    parcnn::Executor executor(threads);
    std::vector<parcnn::Workspace<float>> ws_lpt, ws_ws;
    parcnn::Workspace<float> ws_each;
    for (const char* order_name : {"random order", "smallest first"}) {
      std::vector<std::size_t> order(requests);
      for (std::size_t i = 0; i < requests; ++i) order[i] = i;
      if (order_name[0] == 's') std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return est[a] < est[b]; });
      std::vector<parcnn::TensorView<const float>> iv;
      std::vector<parcnn::TensorView<float>> lpt_v, ws_v;
      for (std::size_t i : order) iv.push_back(in[i].view()), lpt_v.push_back(out_lpt[i].view()), ws_v.push_back(out_ws[i].view());
      struct Figures {
        std::vector<double> makespan, bound, imbalance;
        std::vector<std::vector<double>> busy;
      } lpt, steal;
      std::vector<double> each;
      for (std::size_t round = 0; round <= rounds; ++round) {
        const parcnn::ScheduleTrace a = executor.run([&] { return parcnn::run_requests(model, iv, lpt_v, ws_lpt, parcnn::Schedule::longest_first); });
        const parcnn::ScheduleTrace b = executor.run([&] { return parcnn::run_requests(model, iv, ws_v, ws_ws, parcnn::Schedule::work_stealing); });
        const auto t0 = std::chrono::steady_clock::now();
        executor.run([&] {
          for (std::size_t i : order) model.forward(in[i].view(), out_each[i].view(), parcnn::strategy::Auto{}, ws_each);
        });
        const double each_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
        if (round == 0) {
          for (std::size_t i = 0; i < requests; ++i)
            if (!parcnn::bitwise_equal<float>(out_lpt[i].view(), out_each[i].view()) ||
                !parcnn::bitwise_equal<float>(out_ws[i].view(), out_each[i].view()))
              throw std::runtime_error("request " + std::to_string(i) + ": the ways disagree");
          continue;
        }
        for (auto [f, t] : {std::pair<Figures*, const parcnn::ScheduleTrace*>{&lpt, &a}, {&steal, &b}}) {
          f->makespan.push_back(t->makespan_us), f->bound.push_back(t->lower_bound_us()), f->imbalance.push_back(t->imbalance());
          f->busy.push_back(t->busy_us());
        }
        each.push_back(each_us);
      }
      std::printf("%s:\n", order_name);
      for (auto [name, f] : {std::pair<const char*, Figures*>{"longest-first", &lpt}, {"work-stealing", &steal}}) {
        std::vector<double> ratio;
        for (std::size_t r = 0; r < f->makespan.size(); ++r) ratio.push_back(f->makespan[r] / f->bound[r]);
        std::printf("  %-14s makespan %8.0f us  lower bound %8.0f us  ratio %.3f  imbalance %.3f  busy:", name,
                    median(f->makespan), median(f->bound), median(ratio), median(f->imbalance));
        for (std::size_t w = 0; w < threads; ++w) {
          std::vector<double> b;
          for (const auto& per : f->busy) b.push_back(per[w]);
          std::printf(" %.0f", median(b));
        }
        std::printf(" us\n");
      }
      std::printf("  %-14s makespan %8.0f us  (each request cut over all the workers)\n", "one by one", median(each));
    }
    std::printf("outputs: the three ways bitwise equal\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "requests_mix: %s\n", e.what());
    return 1;
  }
}
