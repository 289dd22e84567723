// network_bench — the whole letter CNN forward, per strategy × batch {1, 16, 64, 256} × threads.
//   ./network_bench --benchmark_filter='batch:64/'
#include "bench_common.hpp"

int main(int argc, char** argv) {
  using namespace parcnn;
  bench::register_layer("letter_cnn", std::make_shared<const Sequential<float>>(models::letter_cnn<float>(26, 1)),
                        models::letter_cnn_input);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
