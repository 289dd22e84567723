// bench/bench_common.hpp — registers "one layer's forward under a strategy, at a batch size, on a
// number of threads" as a Google Benchmark, with rate counters GFLOP (GFLOP/s), peak% (of the FMA peak)
// and images (images/s).
#pragma once

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <parcnn/parcnn.hpp>

namespace parcnn::bench {

inline const std::vector<std::size_t> batch_sizes{1, 16, 64, 256};
// "tuned" measures a plan with parcnn::tune before the timed loop.
inline const std::vector<std::string> strategy_names{"serial", "batch", "channel", "spatial", "tiled:4x4", "auto",
                                                     "tuned"};

inline std::vector<std::size_t> thread_counts() {
  std::vector<std::size_t> t;
  for (std::size_t i = 1; i <= hardware_threads(); ++i) t.push_back(i);
  return t;
}

// The FMA peak of one core in GFLOP/s, for the "peak" counter: PARCNN_PEAK_GFLOPS, or 256 (two 512-bit
// FMA pipes at about 4 GHz, the machines this project measures on).
inline double peak_gflops_per_core() {
  const char* env = std::getenv("PARCNN_PEAK_GFLOPS");
  const double v = env ? std::atof(env) : 0.0;
  return v > 0 ? v : 256.0;
}

// What a strategy runs, as a label to compare strategies by: for a Sequential model either its
// depth-first blocks ("depth-first:32") or each stage's cut ("conv1[+2]:1x32x13x13 ..."), for a layer its
// cut. Two strategies with the same label run the same blocks: their times differ only by noise.
inline std::string cut_label(const Layer<float>& layer, const Shape& in, const Strategy& strategy, std::size_t workers) {
  auto str = [](const Cut& c) {
    return std::to_string(c.n) + "x" + std::to_string(c.c) + "x" + std::to_string(c.h) + "x" + std::to_string(c.w);
  };
  const auto* model = dynamic_cast<const Sequential<float>*>(&layer);
  if (!model) return str(BlockGrid(layer.workload(in).space, strategy.cut(layer.workload(in), workers)).cut());
  const Plan plan = model->plan(in, strategy, Pass::inference, ExecutorProfile(workers));
  if (plan.depth_first()) return "depth-first:" + std::to_string(plan.batch_blocks.n);
  std::string label;
  for (const PlanStage& st : plan.stages) {
    label += (label.empty() ? "" : " ") + model->layer_name(st.first);
    if (st.next > st.first + 1) label += "[+" + std::to_string(st.next - st.first - 1) + "]";
    label += ":" + str(st.cut);
  }
  return label;
}

// Registers `name/batch:B/threads:T/strategy:S` for every combination, labelled with cut_label. `layer` must accept input
// [B] + `image` (one image's shape, batch dimension 1).
inline void register_layer(const std::string& name, std::shared_ptr<const Layer<float>> layer, const Shape& image) {
  for (std::size_t batch : batch_sizes)
    for (std::size_t threads : thread_counts())
      for (const std::string& strategy_name : strategy_names) {
        if (strategy_name == "serial" && threads > 1) continue;
        const std::string id = name + "/batch:" + std::to_string(batch) + "/threads:" + std::to_string(threads) +
                               "/strategy:" + strategy_name;
        benchmark::RegisterBenchmark(id.c_str(), [=](benchmark::State& state) {
          Tensor<float> x(image.with_batch(batch));
          fill_uniform<float>(x, 0.0, 1.0, 1);
          Tensor<float> y(layer->output_shape(x.shape()));
          Workspace<float> ws;
          const double flops = layer->workload(x.shape()).flops;
          Executor arena(threads);
          const Strategy strategy = strategy_name == "tuned"
                                        ? Strategy(arena.run([&] { return tune(*layer, x.shape()); }))
                                        : Strategy::parse(strategy_name);
          arena.run([&] {
            layer->forward(x, y, strategy, ws);  // warm-up: sizes the workspace
            // Inside the scope, after a call: what auto cuts there depends on the hand-off it measured.
            state.SetLabel(cut_label(*layer, x.shape(), strategy, threads));
            for (auto _ : state) {
              layer->forward(x, y, strategy, ws);
              benchmark::DoNotOptimize(y.data());
              benchmark::ClobberMemory();
            }
          });
          state.counters["GFLOP"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
          // Percent of the FMA peak of the threads used.
          state.counters["peak%"] = benchmark::Counter(100 * flops / 1e9 / (peak_gflops_per_core() * double(threads)),
                                                       benchmark::Counter::kIsIterationInvariantRate);
          state.counters["images"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
        })->UseRealTime()->Unit(benchmark::kMicrosecond);
      }
}

}  // namespace parcnn::bench
