// layers_bench — each layer of the letter CNN alone, each convolution with the pool and GELU it fuses
// in the model's forward, and convolutions of the shapes real networks use
// (ResNet-style 3×3 convolutions from 64@56² to 512@7², a 1×1 convolution, a 7×7 stride-2 stem at 224²,
// a VGG-style first 3×3 layer on RGB at 224², which runs the direct kernel, and the small ResNet's
// 3×3 at 16@28² and 32@14²),
// per strategy × batch {1, 16, 64, 256} × threads.
//   ./layers_bench --benchmark_filter='conv2/batch:64/'
//   ./layers_bench --benchmark_filter='conv2\+pool2\+gelu2/batch:64/'
//   ./layers_bench --benchmark_filter='real/conv3x3_128@28/batch:16/'
//   ./layers_bench --benchmark_filter='real_eigen_gemm/conv3x3_128@28/batch:16/'   (Eigen's GEMM)
#include "bench_common.hpp"

int main(int argc, char** argv) {
  using namespace parcnn;
  Sequential<float> model = models::letter_cnn<float>(26, 1);
  Shape image = models::letter_cnn_input;
  for (const auto& stage : planner::stages(model, image, /*workers=*/1)) {  // the stages of a batch of images
    if (stage.next == stage.first + 1) continue;
    // A convolution with the layers it fuses, as the model's forward runs them ("conv1+pool1+gelu1").
    // GFLOP counts the layers' work apart, so the rate compares with theirs.
    auto fused = std::make_shared<Sequential<float>>();
    std::string name;
    for (std::size_t i = stage.first; i < stage.next; ++i) {
      fused->add(model.layer_name(i), model[i].clone());
      name += (name.empty() ? "" : "+") + model.layer_name(i);
    }
    bench::register_layer(name, fused, stage.in);
  }
  for (std::size_t i = 0; i < model.size(); ++i) {
    bench::register_layer(model.layer_name(i), std::shared_ptr<const Layer<float>>(model[i].clone()), image);
    image = model[i].output_shape(image);
  }
  struct RealConv {
    const char* name;
    std::size_t in, out, kernel, stride, pad, size;
  };
  for (const RealConv& c : {RealConv{"conv3x3_64@56", 64, 64, 3, 1, 1, 56}, RealConv{"conv3x3_128@28", 128, 128, 3, 1, 1, 28},
                            RealConv{"conv3x3_256@14", 256, 256, 3, 1, 1, 14}, RealConv{"conv3x3_512@7", 512, 512, 3, 1, 1, 7},
                            RealConv{"conv1x1_256to64@56", 256, 64, 1, 1, 0, 56}, RealConv{"stem7x7s2_3to64@224", 3, 64, 7, 2, 3, 224},
                            RealConv{"conv3x3_3to64@224", 3, 64, 3, 1, 1, 224}, RealConv{"conv3x3_16@28", 16, 16, 3, 1, 1, 28},
                            RealConv{"conv3x3_32@14", 32, 32, 3, 1, 1, 14}}) {
    auto conv = std::make_shared<Conv2d<float>>(c.in, c.out, c.kernel, c.stride, c.pad);
    fill_uniform<float>(conv->weight(), -0.05, 0.05, 1);
    bench::register_layer(std::string("real/") + c.name, conv, Shape{1, c.in, c.size, c.size});
    auto eigen = std::make_shared<Conv2d<float>>(*conv);  // the same convolution on Eigen's GEMM
    eigen->use_gemm(kernels::GemmBackend::eigen);
    bench::register_layer(std::string("real_eigen_gemm/") + c.name, eigen, Shape{1, c.in, c.size, c.size});
  }
  benchmark::AddCustomContext("isa", kernels::isa_name(kernels::active_isa()));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
