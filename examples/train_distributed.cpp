// train_distributed — trains the letter CNN (10 classes) on Fashion-MNIST across MPI processes, data
// parallel, to the weights one process trains, bit for bit (mpi::DistributedTrainer).
//
//   mpirun -np 2 build/examples/train_distributed --threads 1            # one machine, two processes
//   mpirun -np 8 --hostfile hosts build/examples/train_distributed       # several machines
//
// Every rank reads the data set and shuffles it with the same seed; of each global batch it makes only
// its shard (BatchLoader::next with a part) and trains it on --threads threads. Rank 0 prints the
// progress, evaluates the test set and writes --save (weights) and --checkpoint (weights and optimizer
// state, after every epoch); --resume CHECKPOINT restarts every rank from one. Each epoch's line gives
// the training images/s of the whole run, the share of the steps' time spent waiting for the other
// ranks' gradients after the backward pass (the rank that waited longest) and the share of the gradient
// buckets sent on while the backward pass ran (the rank that sent fewest). --transport messages sends
// the gradients as MPI messages even when every rank is on this machine. The last line printed (rank 0)
// is one JSON object: ranks, threads, epochs, test_accuracy, images_per_second, wait_share, overlap_share.
#include <mpi.h>

#include <parcnn/parcnn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cli.hpp"

int main(int argc, char** argv) {
  int provided = 0;  // any of a rank's threads may then send a bucket on, one at a time
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  CLI::App app{"Trains the letter CNN on Fashion-MNIST across MPI processes, to the weights of one process."};
  std::string data = examples::fashion_mnist_dir, save, checkpoint, resume;
  std::size_t epochs = 1, batch = 64, threads = 1, limit = 0, seed = 0, chunk = parcnn::TrainerOptions{}.chunk_images;
  double lr = 1e-3;
  app.add_option("--data", data, "directory of the Fashion-MNIST IDX files")->check(CLI::ExistingDirectory)->capture_default_str();
  app.add_option("--epochs", epochs, "passes over the training set")->check(CLI::Range(std::size_t(1), std::size_t(100000)))->capture_default_str();
  app.add_option("--batch", batch, "images per global step, over all ranks")->check(CLI::Range(std::size_t(1), std::size_t(1) << 16))->capture_default_str();
  app.add_option("--chunk", chunk, "images per gradient chunk")->check(CLI::Range(std::size_t(1), std::size_t(1) << 16))->capture_default_str();
  app.add_option("--lr", lr, "Adam's learning rate")->check(examples::finite_positive())->capture_default_str();
  app.add_option("--threads", threads, "threads of each rank")->check(CLI::Range(std::size_t(1), std::size_t(4096)))->capture_default_str();
  app.add_option("--limit", limit, "train on the first N training images only (0: all)")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--seed", seed, "seed of the initial weights and the shuffle")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--save", save, "rank 0 writes the trained weights to FILE (safetensors)")->check(examples::writable_path());
  app.add_option("--checkpoint", checkpoint, "rank 0 writes weights and optimizer state to FILE after every epoch")
      ->check(examples::writable_path());
  app.add_option("--resume", resume, "every rank starts from this checkpoint (written by --checkpoint)")->check(CLI::ExistingFile);
  std::string transport = "auto";
  app.add_option("--transport", transport, "how gradients travel: shared memory when every rank is on this machine (auto), or messages")
      ->check(CLI::IsMember({"auto", "messages", "shared"}))
      ->capture_default_str();
  if (const auto status = examples::parse(app, argc, argv)) {
    MPI_Finalize();
    return *status;
  }
  int failed = 0;
  try {
    constexpr std::size_t classes = 10;
    const std::string train_labels = examples::data_file(data, "train-labels-idx1-ubyte");
    parcnn::io::ImageDataset train =
        parcnn::io::load_idx_dataset(examples::data_file(data, "train-images-idx3-ubyte"), train_labels);
    const parcnn::io::ImageDataset test = parcnn::io::load_idx_dataset(examples::data_file(data, "t10k-images-idx3-ubyte"),
                                                                       examples::data_file(data, "t10k-labels-idx1-ubyte"));
    train.check_labels(classes, train_labels);
    train.truncate(limit);
    const parcnn::io::Normalization norm{0.2860, 0.3530};

    parcnn::Sequential<float> model = parcnn::models::letter_cnn<float>(classes, seed, parcnn::GeluApproximation::tanh,
                                                                        parcnn::models::LetterCnnInit::torch_default);
    parcnn::Parameters<float> params(model);
    parcnn::Adam<float> adam(params.all(), parcnn::AdamOptions{lr});
    std::size_t first_epoch = 1;
    if (!resume.empty()) first_epoch = std::stoul(parcnn::io::load_checkpoint(resume, model, adam).at("epoch")) + 1;
    parcnn::TrainerOptions options;
    options.chunk_images = chunk;
    const parcnn::mpi::Transport way = transport == "messages" ? parcnn::mpi::Transport::messages
                                       : transport == "shared"   ? parcnn::mpi::Transport::shared_memory
                                                                 : parcnn::mpi::Transport::automatic;
    parcnn::mpi::DistributedTrainer<float> trainer(model, params, adam, options, MPI_COMM_WORLD, way);
    parcnn::Executor executor(threads);
    parcnn::io::BatchLoader<float> batches(train, batch, norm, /*shuffle=*/true, seed);
    if (rank == 0)
      std::printf("letter CNN, %zu parameters; %zu training images; Adam lr %g, global batch %zu, %d rank(s) x %zu thread(s), "
                  "gradients through %s\n", params.count(), train.count, lr, batch, ranks, threads,
                  ranks == 1 ? "nothing (one rank)" : trainer.shared_memory() ? "shared memory" : "messages");

    double step_seconds = 0, wait_seconds = 0, overlap = 0, wait_share = 0, overlap_share = 0, test_accuracy = 0;
    std::size_t trained = 0, steps = 0, epoch = first_epoch;
    parcnn::Tensor<float> x;
    std::vector<std::size_t> y;
    for (; epoch < first_epoch + epochs; ++epoch) {
      batches.start_epoch(epoch);
      double loss_sum = 0;
      std::size_t correct = 0, seen = 0;
      for (std::size_t b = 0; b < batches.batches(); ++b) {
        const std::size_t global = std::min(batch, train.count - b * batch);  // the last batch may be smaller
        batches.next(x, y, trainer.shard(global));
        const auto t0 = std::chrono::steady_clock::now();
        const parcnn::StepStats s = executor.run([&] { return trainer.step(x, y, global); });
        step_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        wait_seconds += trainer.waited_seconds();
        overlap += trainer.overlapped_share(), ++steps;
        loss_sum += s.loss * double(s.images), correct += s.correct, seen += s.images;
      }
      trained += seen;
      // The rank that waited longest, and the one that sent the fewest buckets during its backward passes.
      const double mine[2] = {wait_seconds, -overlap};
      double worst[2] = {0, 0};
      MPI_Reduce(mine, worst, 2, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
      // Every rank holds the same weights: rank 0 evaluates and writes.
      if (rank == 0) {
        wait_share = worst[0] / step_seconds, overlap_share = -worst[1] / double(steps);
        parcnn::io::BatchLoader<float> test_batches(test, 250, norm, /*shuffle=*/false, 0);
        parcnn::Workspace<float> ws;
        std::size_t test_correct = 0;
        parcnn::io::for_each_batch(test_batches, executor, [&](const parcnn::Tensor<float>& images, const std::vector<std::size_t>& labels) {
          const std::vector<std::size_t> p = parcnn::predictions<float>(model.forward(images, parcnn::strategy::Auto{}, ws));
          for (std::size_t n = 0; n < labels.size(); ++n) test_correct += p[n] == labels[n];
        });
        test_accuracy = double(test_correct) / double(test.count);
        std::printf("epoch %zu  loss %.4f  train acc %.4f  %.0f img/s  waited for gradients %.1f %% (%.0f %% sent during "
                    "backward)  test acc %.4f\n", epoch, loss_sum / double(seen), double(correct) / double(seen),
                    double(trained) / step_seconds, 100 * wait_share, 100 * overlap_share, test_accuracy);
        if (!checkpoint.empty()) parcnn::io::save_checkpoint(checkpoint, model, adam, {{"epoch", std::to_string(epoch)}});
      }
    }
    if (rank == 0) {
      if (!save.empty()) parcnn::io::save_safetensors(save, model, {{"model", "letter_cnn"}, {"classes", "10"}});
      examples::print_json_line({{"ranks", ranks},
                                 {"threads", threads},
                                 {"epochs", epochs},
                                 {"test_accuracy", test_accuracy},
                                 {"images_per_second", double(trained) / step_seconds},
                                 {"wait_share", wait_share},
                                 {"overlap_share", overlap_share}});
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_distributed (rank %d): %s\n", rank, e.what());
    failed = 1;
  }
  if (failed) MPI_Abort(MPI_COMM_WORLD, 1);  // the other ranks may wait in a collective for this one
  MPI_Finalize();
  return 0;
}
