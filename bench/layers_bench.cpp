// layers_bench — each layer of the letter CNN alone, per strategy × batch {1, 16, 64, 256} × threads.
//   ./layers_bench --benchmark_filter='conv2/batch:64/'
#include "bench_common.hpp"

int main(int argc, char** argv) {
  using namespace parcnn;
  Sequential<float> model = models::letter_cnn<float>(26, 1);
  Shape image = models::letter_cnn_input;
  for (std::size_t i = 0; i < model.size(); ++i) {
    bench::register_layer(model.layer_name(i), std::shared_ptr<const Layer<float>>(model[i].clone()), image);
    image = model[i].output_shape(image);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
