// train_fashion_mnist — trains the letter CNN or the small ResNet (10 classes) on Fashion-MNIST and saves
// its weights.
//
// Inputs are scaled to [0, 1] and standardised with the training set's mean 0.2860 and std 0.3530. The
// letter CNN ends in LogSoftmax (NLL loss); the ResNet gives raw scores (cross-entropy), and with SGD its
// learning rate follows a cosine schedule over the epochs.
// Each batch is made (gathered in the shuffled order and normalised) while the step before runs
// (io::for_each_batch; --no-prefetch: before its own step); each epoch's line says how long the steps
// waited for data. The last line printed is one JSON object: epochs, test_accuracy, train_seconds,
// images_per_second (the steps' time alone), data_wait_share (the steps' wait for data over the epochs).
#include <parcnn/parcnn.hpp>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "cli.hpp"

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Trains the letter CNN or the small ResNet (10 classes) on Fashion-MNIST and saves its weights."};
  std::string data = examples::fashion_mnist_dir, model_name = "letter", optimizer_name = "adam", strategy_name = "auto",
              init = "torch", save;
  std::size_t epochs = 3, batch = 64, threads = parcnn::hardware_threads(),
              chunk = parcnn::TrainerOptions{}.chunk_images, limit = 0, seed = 0;
  double lr = 0, momentum = 0.9, min_accuracy = 0;
  bool no_prefetch = false;
  app.add_option("--data", data, "directory of the Fashion-MNIST IDX files")->check(CLI::ExistingDirectory)->capture_default_str();
  app.add_option("--model", model_name, "letter (the letter CNN) or resnet (models::small_resnet)")
      ->check(CLI::IsMember({"letter", "resnet"}))
      ->capture_default_str();
  app.add_option("--epochs", epochs, "passes over the training set")->check(CLI::Range(std::size_t(1), std::size_t(100000)))->capture_default_str();
  app.add_option("--batch", batch, "images per step")->check(CLI::Range(std::size_t(1), std::size_t(1) << 16))->capture_default_str();
  app.add_option("--lr", lr, "learning rate (default 1e-3 for adam, 0.05 for sgd)")->check(examples::finite_positive());
  app.add_option("--optimizer", optimizer_name, "adam or sgd")->check(CLI::IsMember({"adam", "sgd"}))->capture_default_str();
  app.add_option("--momentum", momentum, "SGD momentum")->check(examples::finite_in(0, 1))->capture_default_str();
  app.add_option("--threads", threads, "threads")->check(CLI::Range(std::size_t(1), std::size_t(4096)))->capture_default_str();
  app.add_option("--strategy", strategy_name, "parallel strategy")->check(examples::strategy_name(false))->capture_default_str();
  app.add_option("--chunk", chunk, "images per gradient chunk")->check(CLI::Range(std::size_t(1), std::size_t(1) << 16))->capture_default_str();
  app.add_option("--limit", limit, "train on the first N training images only (0: all)")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--seed", seed, "seed of the initial weights and the shuffle")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--init", init, "the letter CNN's: torch (PyTorch's default initialisation) or he (He/Xavier)")
      ->check(CLI::IsMember({"torch", "he"}))
      ->capture_default_str();
  app.add_flag("--no-prefetch", no_prefetch, "make each batch before its step instead of during the step before");
  app.add_option("--save", save, "write the trained weights to FILE (safetensors)")->check(examples::writable_path());
  app.add_option("--min-accuracy", min_accuracy, "exit with status 1 if the final test accuracy is below A")
      ->check(examples::finite_in(0, 1))
      ->capture_default_str();
  if (const auto status = examples::parse(app, argc, argv)) return *status;
  if (app.count("--lr") == 0) lr = optimizer_name == "adam" ? 1e-3 : 0.05;

  constexpr std::size_t classes = 10;
  try {
    const std::string train_labels = examples::data_file(data, "train-labels-idx1-ubyte"),
                      test_labels = examples::data_file(data, "t10k-labels-idx1-ubyte");
    parcnn::io::ImageDataset train =
        parcnn::io::load_idx_dataset(examples::data_file(data, "train-images-idx3-ubyte"), train_labels);
    const parcnn::io::ImageDataset test =
        parcnn::io::load_idx_dataset(examples::data_file(data, "t10k-images-idx3-ubyte"), test_labels);
    train.check_labels(classes, train_labels);
    test.check_labels(classes, test_labels);
    train.truncate(limit);
    const parcnn::io::Normalization norm{0.2860, 0.3530};

    const bool resnet = model_name == "resnet";
    parcnn::Sequential<float> model =
        resnet ? parcnn::models::small_resnet<float>(classes, 1, 16, seed)
               : parcnn::models::letter_cnn<float>(classes, seed, parcnn::GeluApproximation::tanh,
                                                   init == "torch" ? parcnn::models::LetterCnnInit::torch_default
                                                                   : parcnn::models::LetterCnnInit::he_xavier);
    parcnn::Parameters<float> params(model);
    std::unique_ptr<parcnn::Optimizer<float>> optimizer;
    std::unique_ptr<parcnn::LrScheduler<parcnn::SGD<float>, parcnn::CosineAnnealingLR>> schedule;
    if (optimizer_name == "adam") {
      optimizer = std::make_unique<parcnn::Adam<float>>(params.all(), parcnn::AdamOptions{lr});
    } else {
      auto sgd = std::make_unique<parcnn::SGD<float>>(params.all(), parcnn::SgdOptions{lr, momentum});
      if (resnet) schedule = std::make_unique<parcnn::LrScheduler<parcnn::SGD<float>, parcnn::CosineAnnealingLR>>(
                      *sgd, parcnn::CosineAnnealingLR{epochs});
      optimizer = std::move(sgd);
    }
    parcnn::TrainerOptions options{parcnn::Strategy::parse(strategy_name), chunk};
    options.loss = resnet ? parcnn::Loss::cross_entropy : parcnn::Loss::nll;
    parcnn::Trainer<float> trainer(model, params, *optimizer, options);

    std::printf("%s, %zu parameters; %zu training and %zu test images; %s lr %g%s, batch %zu, %zu thread(s), strategy %s\n",
                resnet ? "small ResNet" : "letter CNN", params.count(), train.count, test.count, optimizer_name.c_str(),
                lr, schedule ? " (cosine)" : "", batch, threads, trainer.options().strategy.name().c_str());
    const bool tty = isatty(fileno(stdout));
    parcnn::Executor arena(threads);
    double train_seconds = 0, test_accuracy = 0;
    std::size_t trained_images = 0;
    parcnn::io::BatchLoader<float> train_batches(train, batch, norm, /*shuffle=*/true, seed);
    parcnn::io::BatchLoader<float> test_batches(test, 1000, norm, /*shuffle=*/false, 0);
    double wait_seconds = 0, epoch_seconds = 0;
    for (std::size_t epoch = 1; epoch <= epochs; ++epoch) {
      train_batches.start_epoch(epoch);
      double loss_sum = 0, seconds = 0;
      std::size_t correct = 0, seen = 0, done = 0;
      // The next batch is made while the step runs (io::for_each_batch); the step alone is timed.
      const parcnn::io::InputWait wait = parcnn::io::for_each_batch(
          train_batches, arena,
          [&](const parcnn::Tensor<float>& images, const std::vector<std::size_t>& labels) {
            const auto t0 = Clock::now();
            const parcnn::StepStats s = trainer.step(images, labels);
            seconds += std::chrono::duration<double>(Clock::now() - t0).count();
            if (!std::isfinite(s.loss))
              throw std::runtime_error("training diverged: the loss is " + std::to_string(s.loss) + " at step " +
                                       std::to_string(done + 1) + " of epoch " + std::to_string(epoch) +
                                       " (learning rate " + CLI::detail::to_string(lr) + "; try a smaller --lr)");
            loss_sum += s.loss * double(s.images);
            correct += s.correct;
            seen += s.images;
            if (tty && (++done % 10 == 0 || seen == train.count)) {
              const int width = 30, filled = int(width * seen / train.count);
              std::printf("\repoch %zu/%zu [%s%s] loss %.4f acc %.4f %6.0f img/s", epoch, epochs,
                          std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                          loss_sum / double(seen), double(correct) / double(seen), double(seen) / seconds);
              std::fflush(stdout);
            }
          },
          !no_prefetch);
      wait_seconds += wait.wait_us / 1e6;
      epoch_seconds += wait.total_us / 1e6;
      train_seconds += seconds;
      trained_images += seen;
      if (schedule) schedule->step();
      std::size_t test_correct = 0;
      test_batches.start_epoch(0);
      parcnn::io::for_each_batch(
          test_batches, arena,
          [&](const parcnn::Tensor<float>& images, const std::vector<std::size_t>& labels) {
            test_correct += trainer.evaluate(images, labels).correct;
          },
          !no_prefetch);
      test_accuracy = double(test_correct) / double(test.count);
      std::printf("%sepoch %zu/%zu  loss %.4f  train acc %.4f  %.0f img/s  %.1f s  test acc %.4f  waited for data %.1f ms (%.2f %%)\n",
                  tty ? "\r" : "", epoch, epochs, loss_sum / double(seen), double(correct) / double(seen),
                  double(seen) / seconds, seconds, test_accuracy, wait.wait_us / 1e3, 100 * wait.share());
    }
    if (!save.empty()) {
      parcnn::io::save_safetensors(save, model, {{"model", resnet ? "small_resnet" : "letter_cnn"}, {"classes", "10"}});
      std::printf("weights saved to %s\n", save.c_str());
    }
    examples::print_json_line({{"epochs", epochs},
                               {"test_accuracy", test_accuracy},
                               {"train_seconds", train_seconds},
                               {"images_per_second", double(trained_images) / train_seconds},
                               {"data_wait_share", epoch_seconds > 0 ? wait_seconds / epoch_seconds : 0.0}});
    return test_accuracy >= min_accuracy ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_fashion_mnist: %s\n", e.what());
    return 1;
  }
}
