// run_pipeline: every stage sees every item once and in order, a stage sees an item only after the
// stage before it, at most in_flight items are in flight and no two share a slot; an exception reaches
// the caller; PipelineTrace's sums.
#include <parcnn/parallel/pipeline.hpp>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace parcnn::test {
namespace {

TEST(PipelineTest, EveryStageTakesEveryItemInOrderAfterTheStageBefore) {
  for (std::size_t stages : {1, 2, 3})
    for (std::size_t in_flight : {1, 2, 5}) {
      std::vector<std::unique_ptr<Executor>> owned;
      std::vector<Executor*> executors;
      for (std::size_t s = 0; s < stages; ++s) {
        owned.push_back(std::make_unique<Executor>(1));
        executors.push_back(owned.back().get());
      }
      const std::size_t items = 40;
      std::mutex m;
      std::vector<std::vector<std::size_t>> seen(stages);
      std::vector<std::size_t> slot_owner(in_flight, items);  // the item holding each slot
      std::atomic<std::size_t> live{0}, most_live{0};
      const PipelineTrace trace = run_pipeline(executors, items, in_flight, [&](std::size_t s, std::size_t i, std::size_t slot) {
        {
          std::lock_guard<std::mutex> lock(m);
          EXPECT_EQ(slot, i % in_flight);
          if (s == 0) {
            EXPECT_EQ(slot_owner[slot], items) << "slot " << slot << " still held by item " << slot_owner[slot];
            slot_owner[slot] = i;
            most_live = std::max<std::size_t>(most_live, ++live);
          } else {
            EXPECT_GT(seen[s - 1].size(), i) << "stage " << s << " took item " << i << " before stage " << s - 1 << " had";
          }
          seen[s].push_back(i);
          if (s + 1 == stages) slot_owner[slot] = items, --live;
        }
        std::this_thread::yield();
      });
      for (std::size_t s = 0; s < stages; ++s) {
        ASSERT_EQ(seen[s].size(), items);
        for (std::size_t i = 0; i < items; ++i) EXPECT_EQ(seen[s][i], i) << "stage " << s;
      }
      EXPECT_LE(most_live.load(), in_flight);
      EXPECT_EQ(trace.items, items);
      EXPECT_EQ(trace.stages, stages);
      for (std::size_t i = 0; i < items; ++i)
        for (std::size_t s = 0; s < stages; ++s) {
          EXPECT_LE(trace.start(i, s), trace.end(i, s));
          if (s > 0) {
            EXPECT_GE(trace.start(i, s), trace.end(i, s - 1)) << "item " << i << " stage " << s;
          }
          if (i > 0) {
            EXPECT_GE(trace.start(i, s), trace.end(i - 1, s)) << "item " << i << " stage " << s;
          }
        }
    }
}

TEST(PipelineTest, AnExceptionStopsThePipelineAndReachesTheCaller) {
  Executor a(1), b(1);
  std::atomic<std::size_t> after{0};
  EXPECT_THROW(run_pipeline({&a, &b}, 100, 4,
                            [&](std::size_t s, std::size_t i, std::size_t) {
                              if (s == 1 && i == 10) throw std::runtime_error("stage 1 fails on item 10");
                              if (s == 1 && i > 10) ++after;
                            }),
               std::runtime_error);
  EXPECT_EQ(after.load(), 0u) << "stage 1 went on past the failed item";
  const PipelineTrace ok = run_pipeline({&a, &b}, 3, 2, [](std::size_t, std::size_t, std::size_t) {});
  EXPECT_EQ(ok.items, 3u);  // the executors still work
}

TEST(PipelineTest, RefusesWhatCannotRun) {
  Executor a(1);
  const auto none = [](std::size_t, std::size_t, std::size_t) {};
  EXPECT_THROW(run_pipeline({}, 3, 1, none), ConfigError);
  EXPECT_THROW(run_pipeline({&a, nullptr}, 3, 1, none), ConfigError);
  EXPECT_THROW(run_pipeline({&a}, 3, 0, none), ConfigError);
  const PipelineTrace empty = run_pipeline({&a}, 0, 1, none);
  EXPECT_EQ(empty.makespan_us(), 0);
  EXPECT_EQ(empty.bubble(), 0);
}

// Two stages, two items, times set by hand: the fill and drain, the idle share and the latencies.
TEST(PipelineTest, TheTraceMeasuresTheBubbleAsTheFormulaDefinesIt) {
  PipelineTrace t;
  t.stages = 2, t.items = 2;
  // item 0: stage 0 [0, 10], stage 1 [10, 20]; item 1: stage 0 [10, 20], stage 1 [20, 30]
  t.start_us = {0, 10, 10, 20};
  t.end_us = {10, 20, 20, 30};
  EXPECT_DOUBLE_EQ(t.makespan_us(), 30);
  EXPECT_DOUBLE_EQ(t.busy_us(0), 20);
  EXPECT_DOUBLE_EQ(t.bubble(), 20.0 / 60.0);  // stage 0 idles 10 at the end, stage 1 10 at the start
  EXPECT_DOUBLE_EQ(t.bubble(), t.ideal_bubble());
  EXPECT_DOUBLE_EQ(PipelineTrace::ideal_bubble(4, 61), 3.0 / 64.0);
  EXPECT_DOUBLE_EQ(t.idle_share(), 1 - 40.0 / 60.0);
  EXPECT_EQ(t.latencies_us(), (std::vector<double>{20, 20}));
  // stage 1 twice as slow: item 0 [0, 10] [10, 30], item 1 [10, 20] [30, 50]
  t.start_us = {0, 10, 10, 30};
  t.end_us = {10, 30, 20, 50};
  EXPECT_DOUBLE_EQ(t.bubble(), (10.0 + 30.0) / 100.0);  // stage 1 waits 10 at the start, stage 0 30 at the end
  EXPECT_GT(t.bubble(), t.ideal_bubble()) << "uneven stages: the fast one waits for the slow one at the end";
  EXPECT_DOUBLE_EQ(t.idle_share(), 1 - 60.0 / 100.0);
}

}  // namespace
}  // namespace parcnn::test
