// for_each_batch: the loader's batches, in order and whole, on the executor's workers, with and without
// prefetching; what the step waited; an exception from the step reaches the caller.
#include <parcnn/io/batch_stream.hpp>

#include <stdexcept>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

io::ImageDataset dataset(std::size_t count) {
  io::ImageDataset d;
  d.count = count, d.rows = 4, d.cols = 5;
  d.pixels.resize(count * 20);
  d.labels.resize(count);
  for (std::size_t i = 0; i < d.pixels.size(); ++i) d.pixels[i] = static_cast<std::uint8_t>((i * 37) % 256);
  for (std::size_t i = 0; i < count; ++i) d.labels[i] = static_cast<std::uint8_t>(i % 7);
  d.classes = 7;
  return d;
}

TEST(BatchStreamTest, GivesTheLoadersBatchesInOrderOnTheExecutor) {
  const io::ImageDataset d = dataset(37);
  for (bool prefetch : {true, false}) {
    io::BatchLoader<float> expected_loader(d, 8, {0.3, 0.4}, true, 5), loader(d, 8, {0.3, 0.4}, true, 5);
    expected_loader.start_epoch(2);
    loader.start_epoch(2);
    Tensor<float> x;
    std::vector<std::size_t> y;
    ASSERT_TRUE(expected_loader.next(x, y));  // one batch taken before: the call gives the rest
    ASSERT_TRUE(loader.next(x, y));
    std::vector<Tensor<float>> expected_x, seen_x;
    std::vector<std::vector<std::size_t>> expected_y, seen_y;
    while (expected_loader.next(x, y)) expected_x.push_back(x), expected_y.push_back(y);
    Executor two(2);
    std::size_t workers = 0;
    const io::InputWait w = io::for_each_batch(
        loader, two,
        [&](const Tensor<float>& images, const std::vector<std::size_t>& labels) {
          workers = current_workers();
          seen_x.push_back(images), seen_y.push_back(labels);
        },
        prefetch);
    EXPECT_EQ(workers, 2u) << "the step runs on the executor's workers";
    EXPECT_EQ(w.batches, 4u);
    ASSERT_EQ(seen_x.size(), expected_x.size()) << "prefetch " << prefetch;
    for (std::size_t k = 0; k < seen_x.size(); ++k) {
      EXPECT_TRUE(bitwise<float>(seen_x[k], expected_x[k])) << "batch " << k << ", prefetch " << prefetch;
      EXPECT_EQ(seen_y[k], expected_y[k]) << "batch " << k;
    }
    EXPECT_EQ(seen_x.back().dim(0), 5u);  // the last batch holds what is left
    EXPECT_GE(w.wait_us, 0);
    EXPECT_LE(w.wait_us, w.total_us);
    EXPECT_FALSE(loader.next(x, y)) << "the epoch is used up";
  }
}

TEST(BatchStreamTest, AnExceptionFromTheStepReachesTheCaller) {
  const io::ImageDataset d = dataset(40);
  for (bool prefetch : {true, false}) {
    io::BatchLoader<float> loader(d, 8, {}, false, 0);
    Executor one(1);
    std::size_t steps = 0;
    EXPECT_THROW(io::for_each_batch(
                     loader, one,
                     [&](const Tensor<float>&, const std::vector<std::size_t>&) {
                       if (++steps == 2) throw std::runtime_error("step 2 fails");
                     },
                     prefetch),
                 std::runtime_error);
    EXPECT_EQ(steps, 2u) << "no step after the failed one, prefetch " << prefetch;
  }
}

TEST(BatchStreamTest, AnEmptyEpochRunsNoStep) {
  const io::ImageDataset d = dataset(8);
  io::BatchLoader<float> loader(d, 8, {}, false, 0);
  Tensor<float> x;
  std::vector<std::size_t> y;
  loader.next(x, y);
  Executor one(1);
  const io::InputWait w = io::for_each_batch(loader, one, [&](const Tensor<float>&, const std::vector<std::size_t>&) {
    ADD_FAILURE() << "a step with no batch";
  });
  EXPECT_EQ(w.batches, 0u);
  EXPECT_EQ(w.share(), 0);
}

}  // namespace
}  // namespace parcnn::test
