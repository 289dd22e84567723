// network_bench — the whole letter CNN forward, per strategy × batch {1, 16, 64, 256} × threads; the
// same with fusion off (letter_cnn_unfused) and on Eigen's GEMM (letter_cnn_eigen_gemm); and single
// images arriving with a pause between them (letter_cnn_paced), as requests reach a server.
//   ./network_bench --benchmark_filter='letter_cnn/batch:64/'
#include <chrono>
#include <thread>

#include "bench_common.hpp"

namespace {

// letter_cnn_paced/pause_us:P/batch:1/threads:T/strategy:S — one forward at batch 1, then a pause of P
// µs (the thread sleeps), and again; only the forward is timed. Whether the pause outlasts the team's
// linger (Executor::default_linger) decides whether a forward first waits for a sleeping worker.
void register_paced(const std::shared_ptr<const parcnn::Sequential<float>>& model) {
  using namespace parcnn;
  for (int pause_us : {200, 2000})
    for (std::size_t threads : bench::thread_counts())
      for (const char* strategy_name : {"serial", "auto"}) {
        if (std::string(strategy_name) == "serial" && threads > 1) continue;
        const std::string id = "letter_cnn_paced/pause_us:" + std::to_string(pause_us) +
                               "/batch:1/threads:" + std::to_string(threads) + "/strategy:" + strategy_name;
        benchmark::RegisterBenchmark(id.c_str(), [=](benchmark::State& state) {
          Tensor<float> x(models::letter_cnn_input.with_batch(1));
          fill_uniform<float>(x, 0.0, 1.0, 1);
          Tensor<float> y(model->output_shape(x.shape()));
          Workspace<float> ws;
          Executor arena(threads);
          const Strategy strategy = Strategy::parse(strategy_name);
          arena.run([&] {
            model->forward(x, y, strategy, ws);  // warm-up: sizes the workspace
            for (auto _ : state) {
              std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
              const auto t0 = std::chrono::steady_clock::now();
              model->forward(x, y, strategy, ws);
              benchmark::DoNotOptimize(y.data());
              state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            }
          });
          state.counters["images"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
        })->UseManualTime()->Iterations(400)->Unit(benchmark::kMicrosecond);
      }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace parcnn;
  bench::register_layer("letter_cnn", std::make_shared<const Sequential<float>>(models::letter_cnn<float>(26, 1)),
                        models::letter_cnn_input);
  // The same network with every layer run on its own (no fused pool and GELU), to see what fusion gains.
  auto unfused = std::make_shared<Sequential<float>>(models::letter_cnn<float>(26, 1));
  unfused->fuse_post_ops(false);
  bench::register_layer("letter_cnn_unfused", unfused, models::letter_cnn_input);
  // And on Eigen's GEMM (kernels/gemm_backend.hpp) instead of parcnn's.
  auto eigen = std::make_shared<Sequential<float>>(models::letter_cnn<float>(26, 1));
  eigen->use_gemm(kernels::GemmBackend::eigen);
  bench::register_layer("letter_cnn_eigen_gemm", eigen, models::letter_cnn_input);
  register_paced(std::make_shared<const Sequential<float>>(models::letter_cnn<float>(26, 1)));
  benchmark::AddCustomContext("isa", kernels::isa_name(kernels::active_isa()));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
