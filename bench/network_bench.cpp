// network_bench — the whole letter CNN forward, per strategy × batch {1, 16, 64, 256} × threads; and the
// same with fusion off (letter_cnn_unfused).
//   ./network_bench --benchmark_filter='letter_cnn/batch:64/'
#include "bench_common.hpp"

int main(int argc, char** argv) {
  using namespace parcnn;
  bench::register_layer("letter_cnn", std::make_shared<const Sequential<float>>(models::letter_cnn<float>(26, 1)),
                        models::letter_cnn_input);
  // The same network with every layer run on its own (no fused pool and GELU), to see what fusion gains.
  auto unfused = std::make_shared<Sequential<float>>(models::letter_cnn<float>(26, 1));
  unfused->fuse_epilogues(false);
  bench::register_layer("letter_cnn_unfused", unfused, models::letter_cnn_input);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
