// run_blocks: every block exactly once, worker slots inside the arena, exceptions reach the caller.
#include <parcnn/parallel/run.hpp>
#include <parcnn/parallel/executor.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(RunBlocksTest, EveryBlockOnceWithSlotsBelowTheWorkerCount) {
  for (std::size_t threads : thread_counts()) {
    Executor arena(threads);
    arena.run([&] {
      const IndexSpace space{6, 5, 4, 3};
      std::vector<std::atomic<int>> hits(space.items());
      std::atomic<std::size_t> max_slot{0};
      run_blocks(space, Cut{1, 2, 3, 1}, [&](const Block& b, std::size_t worker) {
        std::size_t seen = max_slot.load();
        while (worker > seen && !max_slot.compare_exchange_weak(seen, worker)) {
        }
        for (std::size_t n = b.n.begin; n < b.n.end; ++n)
          for (std::size_t c = b.c.begin; c < b.c.end; ++c)
            for (std::size_t h = b.h.begin; h < b.h.end; ++h)
              for (std::size_t w = b.w.begin; w < b.w.end; ++w) ++hits[((n * 5 + c) * 4 + h) * 3 + w];
      });
      for (auto& h : hits) EXPECT_EQ(h.load(), 1);
      EXPECT_LT(max_slot.load(), current_workers());
    });
  }
}

TEST(RunBlocksTest, ExceptionsReachTheCaller) {
  EXPECT_THROW(run_blocks(IndexSpace{8}, Cut{}, [](const Block& b, std::size_t) {
                 if (b.n.begin == 5) throw std::runtime_error("block 5");
               }),
               std::runtime_error);
}

TEST(ExecutorTest, ScopesSetTheWorkerCountAndLeakNothing) {
  const std::size_t outside = current_workers();
  EXPECT_EQ(outside, hardware_threads());
  for (std::size_t n : {1, 2, 3}) EXPECT_EQ(Executor(n).run([] { return current_workers(); }), n);
  EXPECT_EQ(with_threads(1, [] { return current_workers(); }), 1u);
  EXPECT_EQ(current_workers(), outside);
  expect_throw_with<ConfigError>([] { Executor(0); }, {"at least 1"});
}

}  // namespace
}  // namespace parcnn::test
