// train_fashion_mnist — trains the letter CNN (10 classes) on Fashion-MNIST and saves its weights.
//
// Inputs are scaled to [0, 1] and standardised with the training set's mean 0.2860 and std 0.3530.
// The last line printed is one JSON object: epochs, test_accuracy, train_seconds, images_per_second.
#include <parcnn/parcnn.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "cli.hpp"

namespace {

const char* usage =
    "usage: train_fashion_mnist [--data DIR] [--epochs E] [--batch B] [--lr LR] [--optimizer adam|sgd]\n"
    "                           [--momentum M] [--threads T] [--strategy NAME] [--chunk IMAGES] [--limit N]\n"
    "                           [--seed S] [--init torch|he] [--save FILE] [--min-accuracy A]\n"
    "  --data DIR        Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)\n"
    "  --lr LR           learning rate (default 1e-3 for adam, 0.05 for sgd)\n"
    "  --limit N         train on the first N training images only (0: all)\n"
    "  --chunk IMAGES    images per gradient chunk (default 8)\n"
    "  --init torch|he   PyTorch's default initialisation (default), or He/Xavier\n"
    "  --min-accuracy A  exit with status 1 if the final test accuracy is below A\n";

using Clock = std::chrono::steady_clock;

}  // namespace

int main(int argc, char** argv) {
  const examples::Flags flags(argc, argv,
                              {{"data", examples::fashion_mnist_dir}, {"epochs", "3"}, {"batch", "64"}, {"lr", ""},
                               {"optimizer", "adam"}, {"momentum", "0.9"}, {"threads", std::to_string(parcnn::hardware_threads())},
                               {"strategy", "auto"}, {"chunk", "8"}, {"limit", "0"}, {"seed", "0"}, {"save", ""},
                               {"min-accuracy", "0"}, {"init", "torch"}},
                              usage);
  const std::string optimizer_name = flags.str("optimizer");
  if (optimizer_name != "adam" && optimizer_name != "sgd") flags.fail("--optimizer is adam or sgd");
  const std::size_t epochs = flags.count("epochs"), batch = flags.count("batch"), threads = flags.count("threads");
  const std::size_t seed = flags.count("seed");
  const double lr = flags.str("lr").empty() ? (optimizer_name == "adam" ? 1e-3 : 0.05) : flags.number("lr");
  if (batch == 0 || threads == 0 || epochs == 0) flags.fail("--epochs, --batch and --threads must be at least 1");

  try {
    const std::string dir = flags.str("data");
    parcnn::io::ImageDataset train = parcnn::io::load_idx_dataset(examples::data_file(dir, "train-images-idx3-ubyte"),
                                                                  examples::data_file(dir, "train-labels-idx1-ubyte"));
    const parcnn::io::ImageDataset test = parcnn::io::load_idx_dataset(examples::data_file(dir, "t10k-images-idx3-ubyte"),
                                                                       examples::data_file(dir, "t10k-labels-idx1-ubyte"));
    train.truncate(flags.count("limit"));
    const parcnn::io::Normalization norm{0.2860, 0.3530};

    const std::string init = flags.str("init");
    if (init != "torch" && init != "he") flags.fail("--init is torch or he");
    parcnn::Sequential<float> model = parcnn::models::letter_cnn<float>(
        10, seed, parcnn::GeluApproximation::tanh,
        init == "torch" ? parcnn::models::LetterCnnInit::torch_default : parcnn::models::LetterCnnInit::he_xavier);
    parcnn::Parameters<float> params(model);
    std::unique_ptr<parcnn::Optimizer<float>> optimizer;
    if (optimizer_name == "adam")
      optimizer = std::make_unique<parcnn::Adam<float>>(params.all(), parcnn::AdamOptions{lr});
    else
      optimizer = std::make_unique<parcnn::SGD<float>>(params.all(), parcnn::SgdOptions{lr, flags.number("momentum")});
    parcnn::Trainer<float> trainer(model, params, *optimizer,
                                   parcnn::TrainerOptions{parcnn::Strategy::parse(flags.str("strategy")), flags.count("chunk")});

    std::printf("letter CNN, %zu parameters; %zu training and %zu test images; %s lr %g, batch %zu, %zu thread(s), strategy %s\n",
                params.count(), train.count, test.count, optimizer_name.c_str(), lr, batch, threads,
                trainer.options().strategy.name().c_str());
    const bool tty = isatty(fileno(stdout));
    parcnn::Threads arena(threads);
    double train_seconds = 0, test_accuracy = 0;
    std::size_t trained_images = 0;
    parcnn::io::BatchLoader<float> train_batches(train, batch, norm, /*shuffle=*/true, seed);
    parcnn::io::BatchLoader<float> test_batches(test, 1000, norm, /*shuffle=*/false, 0);
    parcnn::Tensor<float> x;
    std::vector<std::size_t> y;
    for (std::size_t epoch = 1; epoch <= epochs; ++epoch) {
      train_batches.start_epoch(epoch);
      double loss_sum = 0, seconds = 0;
      std::size_t correct = 0, seen = 0, done = 0;
      while (train_batches.next(x, y)) {
        const auto t0 = Clock::now();
        const parcnn::StepStats s = arena.run([&] { return trainer.step(x, y); });
        seconds += std::chrono::duration<double>(Clock::now() - t0).count();
        loss_sum += s.loss * double(s.images);
        correct += s.correct;
        seen += s.images;
        if (tty && (++done % 10 == 0 || seen == train.count)) {
          const int width = 30, filled = int(width * seen / train.count);
          std::printf("\repoch %zu/%zu [%s%s] loss %.4f acc %.4f %6.0f img/s", epoch, epochs, std::string(filled, '#').c_str(),
                      std::string(width - filled, '.').c_str(), loss_sum / double(seen), double(correct) / double(seen),
                      double(seen) / seconds);
          std::fflush(stdout);
        }
      }
      train_seconds += seconds;
      trained_images += seen;
      std::size_t test_correct = 0;
      test_batches.start_epoch(0);
      while (test_batches.next(x, y)) test_correct += arena.run([&] { return trainer.evaluate(x, y); }).correct;
      test_accuracy = double(test_correct) / double(test.count);
      std::printf("%sepoch %zu/%zu  loss %.4f  train acc %.4f  %.0f img/s  %.1f s  test acc %.4f\n", tty ? "\r" : "", epoch,
                  epochs, loss_sum / double(seen), double(correct) / double(seen), double(seen) / seconds, seconds,
                  test_accuracy);
    }
    if (!flags.str("save").empty()) {
      parcnn::io::save_safetensors(flags.str("save"), model, {{"model", "letter_cnn"}, {"classes", "10"}});
      std::printf("weights saved to %s\n", flags.str("save").c_str());
    }
    std::printf("{\"epochs\":%zu,\"test_accuracy\":%.4f,\"train_seconds\":%.3f,\"images_per_second\":%.1f}\n", epochs,
                test_accuracy, train_seconds, double(trained_images) / train_seconds);
    return test_accuracy >= flags.number("min-accuracy") ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_fashion_mnist: %s\n", e.what());
    return 1;
  }
}
