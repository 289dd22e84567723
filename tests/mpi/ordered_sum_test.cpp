// mpi::ordered_sum on every rank of MPI_COMM_WORLD (ctest runs this program under mpirun with 1, 2 and 4
// ranks): the bits of one process's GradientChunks::sum for chunk counts that do not divide by the ranks,
// fewer chunks than ranks, buckets smaller than a parameter; OrderedSum driven as a backward pass drives
// it (each bucket sent once this rank's chunks have finished it, in order, from another thread too);
// chunk_share; clear errors.
#include <parcnn/mpi/ordered_sum.hpp>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "mpi/world.hpp"
#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

const std::vector<Shape> shapes{Shape{3, 5}, Shape{17}, Shape{4103}, Shape{2, 3, 3, 3}};

// Chunk c's gradient of parameter p: seeded by (c, p), the same on every rank, of mixed magnitudes so
// that the order of the additions shows in the bits.
void fill_chunk(GradientChunks<float>& g, std::size_t local_c, std::size_t global_c) {
  for (std::size_t p = 0; p < shapes.size(); ++p) {
    TensorView<float> v = g.grad(local_c, p);
    fill_uniform<float>(v, -1.0, 1.0, 1000 * global_c + p + 1);
    for (std::size_t i = 0; i < v.size(); i += 7) v.data()[i] *= 1e4f;
  }
}

// One sum on this rank: every chunk of `total` (chunk c seeded by c + seed), this rank's share of them,
// the outputs, and what one process gives (GradientChunks::sum over all chunks).
struct SumCase {
  Range share;
  GradientChunks<float> all, mine;
  std::vector<Tensor<float>> out, expected;
  std::vector<TensorView<float>> views;

  explicit SumCase(std::size_t total, std::size_t seed = 0) : share(mpi::chunk_share(total, world_size(), world_rank())) {
    all.plan(shapes, total, 1);
    mine.plan(shapes, share.size(), 1);
    for (const Shape& s : shapes) out.emplace_back(s), expected.emplace_back(s);
    for (auto& t : out) views.push_back(t.view());
    refill(seed);
  }
  SumCase(const SumCase&) = delete;

  void refill(std::size_t seed) {
    for (std::size_t c = 0; c < all.chunks(); ++c) fill_chunk(all, c, c + seed);
    for (std::size_t c = share.begin; c < share.end; ++c) fill_chunk(mine, c - share.begin, c + seed);
    for (std::size_t p = 0; p < shapes.size(); ++p) all.sum(p, 0, expected[p].size(), expected[p].data());
  }
};

// Every rank of these tests is on this machine: both ways are available.
const mpi::Transport transports[] = {mpi::Transport::messages, mpi::Transport::shared_memory};

const char* name(mpi::Transport t) { return t == mpi::Transport::messages ? "messages" : "shared memory"; }

TEST(OrderedSumTest, GivesTheBitsOfOneProcessForAnyWorldSize) {
  const int W = world_size(), r = world_rank();
  for (mpi::Transport transport : transports)
  for (std::size_t total : {std::size_t(1), std::size_t(3), std::size_t(7), std::size_t(8)})
    for (std::size_t bucket : {std::size_t(5), std::size_t(1000), std::size_t(1) << 16}) {
      SumCase t(total);
      const double waited = mpi::ordered_sum(t.mine, t.share, total, t.views, MPI_COMM_WORLD, bucket, {}, transport);
      EXPECT_GE(waited, 0);
      for (std::size_t p = 0; p < shapes.size(); ++p)
        EXPECT_TRUE(bitwise<float>(t.out[p], t.expected[p])) << name(transport) << ", rank " << r << " of " << W << ", "
                                                             << total << " chunks, buckets of " << bucket << ", parameter " << p;
    }
}

TEST(OrderedSumTest, SumsEachBucketOnceThisRanksChunksHaveFinishedItInBackwardOrder) {
  for (mpi::Transport transport : transports) {
  SCOPED_TRACE(name(transport));
  const int W = world_size(), r = world_rank();
  const std::size_t total = 2 * std::size_t(W);  // two chunks a rank
  SumCase t(total);
  const std::vector<Tensor<float>>& out = t.out;
  const std::vector<Tensor<float>>& expected = t.expected;
  // Buckets of 1000: parameter 3 (54 elements), 2 (4103: five), 1, 0 — the order a backward pass ends them.
  std::vector<std::size_t> delivered;
  mpi::OrderedSum<float> sum(MPI_COMM_WORLD, 1000, transport);
  sum.start(t.mine, t.share, total, t.views, [&](std::size_t p, std::size_t begin, std::size_t count) {
    delivered.push_back(p);
    for (std::size_t i = begin; i < begin + count; ++i)  // the total is in when ready() runs
      ASSERT_EQ(out[p].data()[i], expected[p].data()[i]) << "parameter " << p << ", element " << i;
  });
  EXPECT_EQ(sum.buckets(), 8u);
  // Rank 0 waits for no rank before it: each bucket is summed as soon as its parameter is finished.
  const auto summed = [&](std::size_t n) {
    if (r == 0) {
      EXPECT_EQ(sum.summed_early(), n);
    }
  };
  sum.finished(3, 1, Range{0, 1});
  summed(0);  // one chunk of two
  sum.finished(3, 1, Range{1, 2});
  summed(1);
  sum.finished(1, 1, Range{0, 2});
  summed(1);  // parameter 2's buckets come first
  sum.finished(2, 1, Range{0, 2});
  summed(7);
  int level = MPI_THREAD_SINGLE;
  MPI_Query_thread(&level);
  std::thread([&] { sum.finished(0, 1, Range{0, 2}); }).join();  // as a worker of the rank's backward pass
  summed(level >= MPI_THREAD_SERIALIZED || transport == mpi::Transport::shared_memory ? 8 : 7);
  EXPECT_GE(sum.finish(), 0);
  EXPECT_EQ(delivered, (std::vector<std::size_t>{3, 2, 2, 2, 2, 2, 1, 0}));
  for (std::size_t p = 0; p < shapes.size(); ++p)
    EXPECT_TRUE(bitwise<float>(out[p], expected[p])) << "rank " << r << " of " << W << ", parameter " << p;
  EXPECT_THROW(sum.finish(), ConfigError);  // nothing started
  }
}

TEST(OrderedSumTest, ManyStepsOverSharedMemoryReuseTheWindowInTurn) {
  // Steps one after another with no other synchronisation: each rank's sums alternate between two
  // buffers, and a rank the others run ahead of must still read the step it is in — also rank 0 when it
  // holds no chunk (W − 1 chunks), outside the chain, late at every step.
  const int W = world_size(), r = world_rank();
  for (const std::size_t total : {3 * std::size_t(W) - 1, std::size_t(W) - 1}) {
  if (total == 0) continue;
  SCOPED_TRACE(std::to_string(total) + " chunks");
  mpi::OrderedSum<float> sum(MPI_COMM_WORLD, 100, mpi::Transport::shared_memory);
  EXPECT_TRUE(sum.shared_memory());
  SumCase t(total);
  for (std::size_t step = 0; step < 12; ++step) {
    t.refill(100 * step);
    const bool late = total < std::size_t(W) ? r == 0 : std::size_t(r) == step % std::size_t(W);
    if (late) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    sum.start(t.mine, t.share, total, t.views);
    sum.finish();
    for (std::size_t p = 0; p < shapes.size(); ++p)
      ASSERT_TRUE(bitwise<float>(t.out[p], t.expected[p])) << "rank " << r << ", step " << step << ", parameter " << p;
  }
  }
}

TEST(OrderedSumTest, SharesAreContiguousInRankOrderAndCoverEveryChunk) {
  for (int W : {1, 2, 3, 4, 9})
    for (std::size_t C : {std::size_t(0), std::size_t(1), std::size_t(4), std::size_t(7), std::size_t(100)}) {
      std::size_t next = 0;
      for (int r = 0; r < W; ++r) {
        const Range s = mpi::chunk_share(C, W, r);
        EXPECT_EQ(s.begin, next) << W << " ranks, " << C << " chunks, rank " << r;
        EXPECT_LE(s.size(), (C + std::size_t(W) - 1) / std::size_t(W));
        next = s.end;
      }
      EXPECT_EQ(next, C);
    }
  EXPECT_THROW(mpi::chunk_share(4, 2, 2), ConfigError);
  EXPECT_THROW(mpi::chunk_share(4, 0, 0), ConfigError);
}

TEST(OrderedSumTest, RefusesAShareThatIsNotThisRanks) {
  const int W = world_size(), r = world_rank();
  GradientChunks<float> g;
  g.plan(shapes, 8, 1);
  std::vector<Tensor<float>> out;
  std::vector<TensorView<float>> views;
  for (const Shape& s : shapes) out.emplace_back(s);
  for (auto& t : out) views.push_back(t.view());
  const Range wrong{mpi::chunk_share(8, W, r).begin + 1, 9};
  EXPECT_THROW(mpi::ordered_sum(g, wrong, 8, views, MPI_COMM_WORLD), ConfigError);  // checked before any message
  views.pop_back();
  EXPECT_THROW(mpi::ordered_sum(g, mpi::chunk_share(8, W, r), 8, views, MPI_COMM_WORLD), ShapeError);
}

}  // namespace
}  // namespace parcnn::test
