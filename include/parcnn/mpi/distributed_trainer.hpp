// parcnn/mpi/distributed_trainer.hpp — DistributedTrainer: data-parallel training over the ranks of an
// MPI communicator, to the weights of one process, bit for bit.
//
// Every rank holds the whole model and the same global batch order (the same seed); of each global
// batch it trains on its share of the gradient chunks (shard(): chunk_share's chunks, contiguous in
// rank order), through a Trainer on its own threads (Trainer::accumulate, the loss scaled by the global
// batch). The chunks of all ranks are summed in chunk order (OrderedSum: the chain of additions one
// process makes), and every rank applies the same update to the same sum: the weights after any number
// of steps are those one process trains, whatever the number of ranks. The sum runs while the backward
// pass does: each layer's gradients go as soon as this rank's chunks have finished them, and the step
// waits only for what the last layers' backward left. A model whose layers couple the images of a batch
// (BatchNorm2d in training mode) would see only its shard's statistics: refused on more than one rank.
// An exception on one rank leaves the others waiting for it: end the program with MPI_Abort.
//
//   int provided;   // with MPI_THREAD_SERIALIZED, any of this rank's workers may send a bucket on
//   MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
//   mpi::DistributedTrainer<float> trainer(model, params, adam, options);   // MPI_COMM_WORLD
//   const Range mine = trainer.shard(64);          // this rank's images of each global batch of 64
//   StepStats s = trainer.step(images_of_mine, labels_of_mine, 64);         // the global batch's loss
#pragma once

#include <mpi.h>

#include <string>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/core/range.hpp"
#include "parcnn/layers/sequential.hpp"
#include "parcnn/mpi/ordered_sum.hpp"
#include "parcnn/parallel/index_space.hpp"
#include "parcnn/parallel/run.hpp"
#include "parcnn/train/optimizer.hpp"
#include "parcnn/train/parameters.hpp"
#include "parcnn/train/trainer.hpp"

namespace parcnn::mpi {

template <class T>
class DistributedTrainer {
 public:
  // Collective: every rank of `comm` makes its trainer (and destroys it before MPI_Finalize).
  DistributedTrainer(Sequential<T>& model, Parameters<T>& params, Optimizer<T>& optimizer, TrainerOptions options = {},
                     MPI_Comm comm = MPI_COMM_WORLD, Transport transport = Transport::automatic)
      : model_(model),
        params_(params),
        optimizer_(optimizer),
        trainer_(model, params, optimizer, options),
        comm_(comm),
        sum_(comm, OrderedSum<T>::default_bucket_elements, transport) {
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &ranks_), "MPI_Comm_size");
  }

  int rank() const { return rank_; }
  int ranks() const { return ranks_; }

  // The images of a global batch of `batch` this rank trains on.
  Range shard(std::size_t batch) const {
    const std::size_t chunk = trainer_.options().chunk_images;
    const Range c = chunk_share(ceil_div(batch, chunk), ranks_, rank_);
    return Range{std::min(batch, c.begin * chunk), std::min(batch, c.end * chunk)};
  }

  // One step: `images` and `labels` are this rank's shard (shard(batch)) of a global batch of `batch`
  // images. Returns the global batch's mean loss and correct count, the same on every rank (the ranks'
  // figures added in rank order).
  StepStats step(TensorView<const T> images, const std::vector<std::size_t>& labels, std::size_t batch) {
    if (ranks_ > 1 && model_.couples_images())
      throw ConfigError("mpi::DistributedTrainer: the model couples the images of a batch (BatchNorm2d in training "
                        "mode): on " + std::to_string(ranks_) + " ranks each would normalise by its shard alone");
    const Range mine = shard(batch);
    const std::size_t rows = images.rank() > 0 ? images.dim(0) : 0;
    if (rows != mine.size() || labels.size() != mine.size())
      throw ShapeError("mpi::DistributedTrainer::step: rank " + std::to_string(rank_) + " of " + std::to_string(ranks_) +
                       " trains on images [" + std::to_string(mine.begin) + ", " + std::to_string(mine.end) +
                       ") of a batch of " + std::to_string(batch) + ", given " + std::to_string(rows) + " images and " +
                       std::to_string(labels.size()) + " labels");
    if (ranks_ == 1) {  // the whole batch here: the single process's step (its sum and update in parallel)
      waited_ = 0;
      return trainer_.step(images, labels);
    }
    const std::size_t chunk = trainer_.options().chunk_images, total = ceil_div(batch, chunk);
    grads_.clear();
    for (auto& p : params_) grads_.push_back(p.grad.view());
    if (mine.size() == 0) empty_.plan(model_.parameter_shapes(), 0, chunk);
    // As reduce_and_update: every rank updates each bucket of the sum as soon as its total is in — the
    // last layer's while the backward pass is still at the first layers.
    optimizer_.begin_step();
    sum_.start(mine.size() > 0 ? trainer_.chunks() : empty_, chunk_share(total, ranks_, rank_), total, grads_,
               [this](std::size_t p, std::size_t begin, std::size_t count) { optimizer_.update(params_[p], begin, count); });
    StepStats local;
    try {
      if (mine.size() > 0) local = trainer_.accumulate(images, labels, batch, &sum_);
      waited_ = sum_.finish();
    } catch (...) {
      sum_.abandon();
      throw;
    }
    overlapped_ = double(sum_.summed_early()) / double(sum_.buckets());
    return global_stats(local);
  }

  // The seconds this rank waited for the others in the last step, after its backward pass (OrderedSum).
  double waited_seconds() const { return waited_; }
  // The share of the last step's buckets this rank summed and sent on while its backward pass ran.
  double overlapped_share() const { return overlapped_; }

  const Trainer<T>& trainer() const { return trainer_; }
  // Whether the gradients travel through shared memory (every rank on this machine) or as messages.
  bool shared_memory() const { return sum_.shared_memory(); }

 private:
  // Every rank's (loss × images, correct, images), added in rank order on every rank.
  StepStats global_stats(const StepStats& local) {
    const double mine[3] = {local.loss * double(local.images), double(local.correct), double(local.images)};
    std::vector<double> all(3 * std::size_t(ranks_));
    check(MPI_Allgather(mine, 3, MPI_DOUBLE, all.data(), 3, MPI_DOUBLE, comm_), "MPI_Allgather");
    double loss = 0, correct = 0, images = 0;
    for (int r = 0; r < ranks_; ++r) loss += all[3 * r], correct += all[3 * r + 1], images += all[3 * r + 2];
    StepStats s;
    s.images = std::size_t(images);
    s.correct = std::size_t(correct);
    s.loss = images > 0 ? loss / images : 0;
    return s;
  }

  Sequential<T>& model_;
  Parameters<T>& params_;
  Optimizer<T>& optimizer_;
  Trainer<T> trainer_;
  MPI_Comm comm_;
  int rank_ = 0, ranks_ = 1;
  GradientChunks<T> empty_;  // a rank with no chunks of a batch still takes part in the sum
  std::vector<TensorView<T>> grads_;
  OrderedSum<T> sum_;
  double waited_ = 0, overlapped_ = 0;
};

}  // namespace parcnn::mpi
