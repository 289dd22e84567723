// hardware_report — what this machine has and what a model's layers make of it: a roofline.
//
// The machine: cores, caches (sysfs, else CPUID), the kernels' instruction set and vector width, the
// multiply-add peak measured on one core and on all the workers, and the memory bandwidth the workers
// drive (STREAM's triad) at working sets from 32 KiB to 256 MiB. Then, for every stage of the model's
// plan at the given batch (a layer with the post-ops it runs on its output): FLOPs, bytes (inputs,
// parameters, outputs once), arithmetic intensity, the roofline bound min(peak, intensity × the
// bandwidth at its working set), the GFLOP/s it reaches under the cut the rules pick (strategy::Auto),
// and that pick beside the fastest cut measured (tune). A stage above its bound is flagged: the model
// of the machine is wrong there (or the machine changed speed between the measurements), not the
// kernel. --json FILE writes it all for bench/plot_roofline.py. It takes well under a minute.
//
//   hardware_report [--model letter|resnet] [--batch 64] [--threads 2] [--json roofline.json]
#include <parcnn/parcnn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>

#include "cli.hpp"

namespace {

// Median microseconds per call of f over `repeats` samples of about 1 ms each, after a warm-up call.
double median_us(const std::function<void()>& f, std::size_t repeats = 9) {
  using Clock = std::chrono::steady_clock;
  f();
  auto t0 = Clock::now();
  f();
  const double once = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  const std::size_t calls = std::clamp<std::size_t>(std::size_t(1000 / std::max(once, 1.0)), 1, 1000);
  std::vector<double> samples;
  for (std::size_t r = 0; r < repeats; ++r) {
    t0 = Clock::now();
    for (std::size_t c = 0; c < calls; ++c) f();
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / double(calls));
  }
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  return samples[samples.size() / 2];
}

std::string bytes_text(double b) {
  char s[32];
  if (b >= (1 << 20))
    std::snprintf(s, sizeof s, "%.1f MiB", b / (1 << 20));
  else
    std::snprintf(s, sizeof s, "%.0f KiB", b / (1 << 10));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"This machine's caches, peak and bandwidth, and a model's layers on its roofline."};
  std::string model_name = "letter", json_path;
  std::size_t batch = 64, threads = parcnn::hardware_threads();
  app.add_option("--model", model_name, "letter (the letter CNN) or resnet (models::small_resnet, eval mode)")
      ->check(CLI::IsMember({"letter", "resnet"}))
      ->capture_default_str();
  app.add_option("--batch", batch, "images per forward")->check(CLI::Range(std::size_t(1), std::size_t(4096)))->capture_default_str();
  app.add_option("--threads", threads, "workers")->check(CLI::Range(std::size_t(1), std::size_t(4096)))->capture_default_str();
  app.add_option("--json", json_path, "write the machine and the layers as JSON (for bench/plot_roofline.py)")
      ->check(examples::writable_path());
  if (const auto status = examples::parse(app, argc, argv)) return *status;

  try {
    parcnn::Sequential<float> model =
        model_name == "letter" ? parcnn::models::letter_cnn<float>(26, 1) : parcnn::models::small_resnet<float>(10, 1, 16, 1);
    model.train(false);
    const parcnn::Shape in{batch, 1, 28, 28};
    parcnn::Executor executor(threads);

    // The machine.
    const parcnn::CacheInfo caches = parcnn::cache_levels();
    const parcnn::kernels::Isa isa = parcnn::kernels::active_isa();
    const std::size_t vector_bits = isa == parcnn::kernels::Isa::avx512 ? 512 : isa == parcnn::kernels::Isa::avx2 ? 256 : 128;
    const double core_peak = parcnn::kernels::fma_peak_gflops<float>(0.05, 5);
    const double peak = core_peak * double(threads);
    const std::vector<parcnn::BandwidthRung> ladder = executor.run([] {
      return parcnn::bandwidth_ladder({std::size_t(32) << 10, std::size_t(256) << 10, std::size_t(2) << 20,
                                       std::size_t(16) << 20, std::size_t(256) << 20});
    });
    std::printf("machine: %zu core(s), %s kernels (%zu-bit vectors, %zu floats)\n", parcnn::hardware_threads(),
                parcnn::kernels::isa_name(isa), vector_bits, vector_bits / 32);
    std::printf("caches (%s):", caches.source.c_str());
    for (const parcnn::CacheLevel& c : caches.levels)
      std::printf(" L%d %s %s%s%s;", c.level, c.type.c_str(), bytes_text(double(c.bytes)).c_str(),
                  c.shared_with.empty() ? "" : ", cpus ", c.shared_with.c_str());
    std::printf("\nmultiply-add peak (float): %.1f GFLOP/s a core, %.1f on %zu worker(s)\n", core_peak, peak, threads);
    std::printf("bandwidth (triad on %zu worker(s)):", threads);
    for (const parcnn::BandwidthRung& r : ladder) std::printf("  %s %.1f GB/s", bytes_text(double(r.bytes)).c_str(), r.gbytes_per_s);
    std::printf("\n\n");

    // The layers: each plan stage timed under Auto's cut on its real input, and every cut tuned.
    const std::vector<parcnn::PlanStage> stages = parcnn::planner::stages(model, in, threads);
    const parcnn::strategy::Tuned tuned = executor.run([&] { return parcnn::tune(model, in); });
    std::vector<parcnn::Tensor<float>> x{parcnn::Tensor<float>(in)};
    parcnn::fill_uniform<float>(x[0].view(), 0.0, 1.0, 1);
    nlohmann::ordered_json layers = nlohmann::ordered_json::array();
    std::printf("%-26s %9s %10s %8s %10s %10s %7s  %-10s %-22s\n", "stage", "MFLOP", "bytes", "FLOP/B", "bound GF/s",
                "achieved", "of bound", "rules pick", "measured fastest");
    std::size_t above = 0;
    for (const parcnn::PlanStage& st : stages) {
      const parcnn::Layer<float>& head = model[st.first];
      x.emplace_back(head.fused_output_shape(x.back().shape(), st.post_ops));
      parcnn::Workspace<float> ws;
      const parcnn::TensorView<const float> input = x[x.size() - 2].view();
      const parcnn::TensorView<float> output = x.back().view();
      const double us = executor.run([&] {
        return median_us([&] { head.forward_fused(input, output, st.post_ops, parcnn::strategy::Auto{}, ws); });
      });
      const parcnn::Workload& w = st.work;
      const double intensity = w.intensity(), bandwidth = parcnn::roof_bandwidth(ladder, w.bytes);
      const double bound = std::min(peak, intensity * bandwidth), achieved = w.flops / us / 1e3;
      const std::string pick = parcnn::strategy::Auto{}.choose(w, threads).strategy;
      const parcnn::strategy::Tuned::Entry* e = tuned.find(w, threads);
      const std::string fastest =
          e && !e->timings.empty() ? e->timings[0].strategy + " (" + std::to_string(int(e->timings[0].microseconds + 0.5)) + " us)" : "-";
      std::string name = model.layer_name(st.first);
      for (std::size_t j = st.first + 1; j < st.next; ++j) name += "+" + model.layer_name(j);
      const bool over = achieved > bound * 1.0001;
      above += over;
      char share[16] = "      -";  // no arithmetic (flatten): no roofline point
      if (w.flops > 0) std::snprintf(share, sizeof share, "%6.0f%%", 100 * achieved / bound);
      std::printf("%-26s %9.3f %10s %8.2f %10.1f %10.1f %s  %-10s %-22s%s\n", name.c_str(), w.flops / 1e6,
                  bytes_text(w.bytes).c_str(), intensity, bound, achieved, share, pick.c_str(), fastest.c_str(),
                  over ? "  ABOVE THE BOUND" : "");
      layers.push_back({{"stage", name},
                        {"flops", w.flops},
                        {"bytes", w.bytes},
                        {"intensity", intensity},
                        {"bandwidth_gbs", bandwidth},
                        {"bound_gflops", bound},
                        {"achieved_gflops", achieved},
                        {"microseconds", us},
                        {"rules_pick", pick},
                        {"fastest", e && !e->timings.empty() ? e->timings[0].strategy : pick}});
    }
    std::printf("\n%zu of %zu stages under their roofline bound\n", stages.size() - above, stages.size());
    if (!json_path.empty()) {
      nlohmann::ordered_json machine{{"cores", parcnn::hardware_threads()},
                                     {"workers", threads},
                                     {"isa", parcnn::kernels::isa_name(isa)},
                                     {"vector_bits", vector_bits},
                                     {"peak_gflops_per_core", core_peak},
                                     {"peak_gflops", peak},
                                     {"cache_source", caches.source}};
      nlohmann::ordered_json cache_list = nlohmann::ordered_json::array(), rungs = nlohmann::ordered_json::array();
      for (const parcnn::CacheLevel& c : caches.levels) cache_list.push_back({{"level", c.level}, {"type", c.type}, {"bytes", c.bytes}});
      for (const parcnn::BandwidthRung& r : ladder) rungs.push_back({{"bytes", r.bytes}, {"gbytes_per_s", r.gbytes_per_s}});
      machine["caches"] = cache_list;
      machine["bandwidth"] = rungs;
      const nlohmann::ordered_json out{{"model", model_name}, {"batch", batch}, {"machine", machine}, {"stages", layers}};
      std::ofstream(json_path) << out.dump(2) << "\n";
      std::printf("written to %s (render: /usr/bin/python3 bench/plot_roofline.py %s)\n", json_path.c_str(), json_path.c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hardware_report: %s\n", e.what());
    return 1;
  }
}
