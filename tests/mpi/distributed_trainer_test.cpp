// mpi::DistributedTrainer on every rank of MPI_COMM_WORLD (1, 2 and 4 ranks under ctest): the weights
// after a few steps are the bits one process's Trainer gives, with SGD and Adam, on 1 and 2 threads a
// rank, when some ranks hold no chunk of a batch, with batches of changing size; the global loss and
// accuracy on every rank; the sum
// runs during the backward pass; a model that couples the images is refused on more than one rank.
#include <parcnn/mpi/distributed_trainer.hpp>
#include <parcnn/models/letter_cnn.hpp>
#include <parcnn/models/small_resnet.hpp>

#include <gtest/gtest.h>

#include "mpi/world.hpp"
#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

std::vector<Tensor<float>> weights(Parameters<float>& params) {
  std::vector<Tensor<float>> w;
  for (auto& p : params) w.emplace_back(p.value->view());
  return w;
}

TEST(DistributedTrainerTest, TrainsToTheBitsOfOneProcess) {
  for (mpi::Transport transport : {mpi::Transport::messages, mpi::Transport::shared_memory})
  for (bool adam : {false, true})
    for (std::size_t batch : {std::size_t(13), std::size_t(7)})  // 4 chunks of 4 (the last of 1); 2 chunks
      for (std::size_t threads : {std::size_t(1), std::size_t(2)}) {
        const TrainerOptions options{strategy::Auto{}, 4};
        const std::size_t steps = 3;
        // One process.
        Sequential<float> one = models::letter_cnn<float>(4, 3);
        Parameters<float> one_params(one);
        SGD<float> one_sgd(one_params.all(), SgdOptions{0.05, 0.9});
        Adam<float> one_adam(one_params.all(), AdamOptions{1e-3});
        Trainer<float> single(one, one_params, adam ? static_cast<Optimizer<float>&>(one_adam) : one_sgd, options);
        std::vector<StepStats> expected;
        Tensor<float> x;
        std::vector<std::size_t> y;
        for (std::size_t s = 0; s < steps; ++s) {
          toy_batch(batch, s, x, y);
          expected.push_back(single.step(x, y));
        }
        // Every rank, its shard.
        Sequential<float> model = models::letter_cnn<float>(4, 3);
        Parameters<float> params(model);
        SGD<float> sgd(params.all(), SgdOptions{0.05, 0.9});
        Adam<float> adam_opt(params.all(), AdamOptions{1e-3});
        mpi::DistributedTrainer<float> trainer(model, params, adam ? static_cast<Optimizer<float>&>(adam_opt) : sgd, options,
                                               MPI_COMM_WORLD, transport);
        Executor executor(threads);
        for (std::size_t s = 0; s < steps; ++s) {
          toy_batch(batch, s, x, y);
          const Range mine = trainer.shard(batch);
          const std::vector<std::size_t> my_labels(y.begin() + std::ptrdiff_t(mine.begin), y.begin() + std::ptrdiff_t(mine.end));
          const StepStats st = executor.run(
              [&] { return trainer.step(TensorView<const float>(x.view()).batch(mine.begin, mine.end), my_labels, batch); });
          EXPECT_EQ(st.images, batch);
          EXPECT_EQ(st.correct, expected[s].correct);
          EXPECT_NEAR(st.loss, expected[s].loss, 1e-6 * (1 + std::abs(expected[s].loss)));  // a sum in another order
          EXPECT_GE(trainer.waited_seconds(), 0);
          // Rank 0 waits for no rank: it sums every bucket while its backward pass runs.
          if (trainer.ranks() > 1 && trainer.rank() == 0 && mine.size() > 0) {
            EXPECT_EQ(trainer.overlapped_share(), 1.0);
          }
        }
        const std::vector<Tensor<float>> got = weights(params), want = weights(one_params);
        for (std::size_t p = 0; p < got.size(); ++p)
          ASSERT_TRUE(bitwise<float>(got[p], want[p]))
              << (trainer.shared_memory() ? "shared memory, " : "messages, ") << (adam ? "Adam" : "SGD") << ", batch " << batch << ", " << threads << " threads a rank, rank "
              << trainer.rank() << " of " << trainer.ranks() << ", parameter " << p;
      }
}

TEST(DistributedTrainerTest, BatchesOfChangingSizeTrainToTheBitsOfOneProcess) {
  // An epoch's last batch is smaller: each rank's chunks are planned again, fewer, then more.
  const TrainerOptions options{strategy::Auto{}, 4};
  Sequential<float> one = models::letter_cnn<float>(4, 5), model = models::letter_cnn<float>(4, 5);
  Parameters<float> one_params(one), params(model);
  Adam<float> one_adam(one_params.all(), AdamOptions{1e-3}), adam(params.all(), AdamOptions{1e-3});
  Trainer<float> single(one, one_params, one_adam, options);
  mpi::DistributedTrainer<float> trainer(model, params, adam, options);
  Tensor<float> x;
  std::vector<std::size_t> y;
  std::size_t step = 0;
  for (std::size_t batch : {16, 5, 1, 16, 9}) {
    toy_batch(batch, step++, x, y);
    single.step(x, y);
    const Range mine = trainer.shard(batch);
    const std::vector<std::size_t> my_labels(y.begin() + std::ptrdiff_t(mine.begin), y.begin() + std::ptrdiff_t(mine.end));
    trainer.step(TensorView<const float>(x.view()).batch(mine.begin, mine.end), my_labels, batch);
  }
  for (std::size_t p = 0; p < params.size(); ++p)
    ASSERT_TRUE(bitwise<float>(weights(params)[p], weights(one_params)[p]))
        << "rank " << trainer.rank() << " of " << trainer.ranks() << ", parameter " << p;
}

TEST(DistributedTrainerTest, ShardsAreChunksInRankOrder) {
  Sequential<float> model = models::letter_cnn<float>(4, 3);
  Parameters<float> params(model);
  SGD<float> sgd(params.all(), SgdOptions{0.05});
  mpi::DistributedTrainer<float> trainer(model, params, sgd, TrainerOptions{strategy::Auto{}, 4});
  const Range s = trainer.shard(13);
  EXPECT_EQ(s.begin % 4, 0u);
  const Range chunks = mpi::chunk_share(4, trainer.ranks(), trainer.rank());
  EXPECT_EQ(s.begin, chunks.begin * 4);
  EXPECT_EQ(s.end, std::min<std::size_t>(13, chunks.end * 4));
  Tensor<float> x(Shape{s.size() + 1, 1, 28, 28});
  EXPECT_THROW(trainer.step(x, std::vector<std::size_t>(s.size() + 1, 0), 13), ShapeError);
}

TEST(DistributedTrainerTest, RefusesAModelThatCouplesTheImagesOnSeveralRanks) {
  if (world_size() == 1) GTEST_SKIP() << "one rank: the shard is the batch";
  Sequential<float> model = models::small_resnet<float>(4, 1, 4, 1);
  Parameters<float> params(model);
  SGD<float> sgd(params.all(), SgdOptions{0.05});
  TrainerOptions options{strategy::Auto{}, 4};
  options.loss = Loss::cross_entropy;
  mpi::DistributedTrainer<float> trainer(model, params, sgd, options);
  const Range s = trainer.shard(8);
  Tensor<float> x(Shape{s.size(), 1, 28, 28});
  expect_throw_with<ConfigError>([&] { trainer.step(x, std::vector<std::size_t>(s.size(), 0), 8); }, {"couples the images"});
}

}  // namespace
}  // namespace parcnn::test
