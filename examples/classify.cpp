// classify — loads letter-CNN weights (safetensors) and classifies the Fashion-MNIST test set: accuracy
// and the confusion matrix.
#include <parcnn/parcnn.hpp>

#include <cstdio>

#include "cli.hpp"

int main(int argc, char** argv) {
  const examples::Flags flags(
      argc, argv,
      {{"weights", "fashion_mnist.safetensors"}, {"data", examples::fashion_mnist_dir}, {"threads", std::to_string(parcnn::hardware_threads())},
       {"strategy", "auto"}, {"limit", "0"}},
      "usage: classify [--weights FILE] [--data DIR] [--threads T] [--strategy NAME] [--limit N]\n");
  try {
    parcnn::io::ImageDataset test = parcnn::io::load_idx_dataset(
        examples::data_file(flags.str("data"), "t10k-images-idx3-ubyte"), examples::data_file(flags.str("data"), "t10k-labels-idx1-ubyte"));
    test.truncate(flags.count("limit"));
    parcnn::Sequential<float> model = parcnn::models::letter_cnn<float>(10);
    parcnn::io::load_safetensors(flags.str("weights"), model);
    const parcnn::Strategy strategy = parcnn::Strategy::parse(flags.str("strategy"));
    parcnn::io::BatchLoader<float> batches(test, 1000, {0.2860, 0.3530}, false, 0);
    std::size_t confusion[10][10] = {};
    parcnn::Tensor<float> x;
    std::vector<std::size_t> y;
    parcnn::Workspace<float> ws;
    parcnn::Threads arena(flags.count("threads"));
    while (batches.next(x, y)) {
      const auto predicted = arena.run([&] { return parcnn::predictions<float>(model.forward(x, strategy, ws)); });
      for (std::size_t n = 0; n < y.size(); ++n) ++confusion[y[n]][predicted[n]];
    }
    std::size_t correct = 0;
    for (std::size_t c = 0; c < 10; ++c) correct += confusion[c][c];
    std::printf("test accuracy %.4f (%zu of %zu)\n\nconfusion matrix (rows: true class, columns: predicted)\n",
                double(correct) / double(test.count), correct, test.count);
    std::printf("%-12s", "");
    for (std::size_t c = 0; c < 10; ++c) std::printf("%6zu", c);
    std::printf("\n");
    for (std::size_t r = 0; r < 10; ++r) {
      std::printf("%zu %-10s", r, examples::fashion_mnist_classes[r]);
      for (std::size_t c = 0; c < 10; ++c) std::printf("%6zu", confusion[r][c]);
      std::printf("\n");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "classify: %s\n", e.what());
    return 1;
  }
}
