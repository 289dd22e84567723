// classify — loads weights of the letter CNN or the small ResNet (safetensors; the file's "model"
// metadata says which, the letter CNN when it says nothing) and classifies the Fashion-MNIST test set:
// accuracy, the confusion matrix and the forward passes' throughput, each batch made while the forward
// before it runs (io::for_each_batch). --fold-batch-norm runs the model with each BatchNorm folded into
// its convolution (fold_batch_norm: faster, the same values up to rounding).
#include <parcnn/parcnn.hpp>

#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>

#include "cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Classifies the Fashion-MNIST test set with trained weights: accuracy and confusion matrix."};
  std::string weights = "fashion_mnist.safetensors", data = examples::fashion_mnist_dir, strategy_name = "auto";
  std::size_t threads = parcnn::hardware_threads(), limit = 0;
  bool fold = false;
  app.add_option("--weights", weights, "weights of a 10-class letter CNN or small ResNet (safetensors)")
      ->check(CLI::ExistingFile)
      ->capture_default_str();
  app.add_option("--data", data, "directory of the Fashion-MNIST IDX files")->check(CLI::ExistingDirectory)->capture_default_str();
  app.add_option("--threads", threads, "threads")->check(CLI::Range(std::size_t(1), std::size_t(4096)))->capture_default_str();
  app.add_option("--strategy", strategy_name, "parallel strategy")->check(examples::strategy_name(false))->capture_default_str();
  app.add_option("--limit", limit, "classify the first N test images only (0: all)")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_flag("--fold-batch-norm", fold, "fold each BatchNorm2d into the convolution before it");
  if (const auto status = examples::parse(app, argc, argv)) return *status;

  constexpr std::size_t classes = 10;
  try {
    const std::string labels_path = examples::data_file(data, "t10k-labels-idx1-ubyte");
    parcnn::io::ImageDataset test =
        parcnn::io::load_idx_dataset(examples::data_file(data, "t10k-images-idx3-ubyte"), labels_path);
    test.check_labels(classes, labels_path);
    test.truncate(limit);
    std::map<std::string, std::string> metadata = parcnn::io::read_safetensors_metadata(weights);
    const std::string kind = metadata.count("model") ? metadata["model"] : "letter_cnn";
    if (kind != "letter_cnn" && kind != "small_resnet")
      throw std::runtime_error(weights + ": a model of kind '" + kind + "', not letter_cnn or small_resnet");
    parcnn::Sequential<float> model = kind == "small_resnet" ? parcnn::models::small_resnet<float>(classes)
                                                             : parcnn::models::letter_cnn<float>(classes);
    parcnn::io::load_safetensors(weights, model);
    model.eval();
    if (fold) model = parcnn::fold_batch_norm(model);
    const parcnn::Strategy strategy = parcnn::Strategy::parse(strategy_name);
    parcnn::io::BatchLoader<float> batches(test, 250, {0.2860, 0.3530}, false, 0);  // a small first batch: the one wait
    std::size_t confusion[classes][classes] = {};
    parcnn::Workspace<float> ws;
    parcnn::Executor arena(threads);
    double forward_seconds = 0;
    // The next batch is made while the forward runs (io::for_each_batch); the forward alone is timed.
    const parcnn::io::InputWait wait = parcnn::io::for_each_batch(
        batches, arena, [&](const parcnn::Tensor<float>& x, const std::vector<std::size_t>& y) {
          const auto start = std::chrono::steady_clock::now();
          const auto predicted = parcnn::predictions<float>(model.forward(x, strategy, ws));
          forward_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          for (std::size_t n = 0; n < y.size(); ++n) ++confusion[y[n]][predicted[n]];
        });
    std::size_t correct = 0;
    for (std::size_t c = 0; c < classes; ++c) correct += confusion[c][c];
    std::printf("test accuracy %.4f (%zu of %zu)\n", double(correct) / double(test.count), correct, test.count);
    std::printf("forward: %.0f images/s (%s%zu thread(s), batches of 250); waited for data %.1f ms (%.2f %%)\n",
                double(test.count) / forward_seconds, fold ? "BatchNorm folded, " : "", threads, wait.wait_us / 1e3,
                100 * wait.share());
    std::printf("\nconfusion matrix (rows: true class, columns: predicted)\n");
    std::printf("%-12s", "");
    for (std::size_t c = 0; c < classes; ++c) std::printf("%6zu", c);
    std::printf("\n");
    for (std::size_t r = 0; r < classes; ++r) {
      std::printf("%zu %-10s", r, examples::fashion_mnist_classes[r]);
      for (std::size_t c = 0; c < classes; ++c) std::printf("%6zu", confusion[r][c]);
      std::printf("\n");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "classify: %s\n", e.what());
    return 1;
  }
}
