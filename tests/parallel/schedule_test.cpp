// run_tasks: every task once, on a worker below the scope's count held by one thread at a time, in
// either schedule; longest first takes the tasks largest first; ScheduleTrace's sums.
#include <parcnn/parallel/executor.hpp>
#include <parcnn/parallel/schedule.hpp>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace parcnn::test {
namespace {

TEST(ScheduleTest, EveryTaskRunsOnceOnAWorkerOfTheScope) {
  for (Schedule s : {Schedule::longest_first, Schedule::work_stealing})
    for (std::size_t threads : {1, 2, 3}) {
      std::vector<double> cost;
      for (std::size_t t = 0; t < 57; ++t) cost.push_back(double((t * 7) % 13));
      std::vector<std::atomic<int>> runs(cost.size());
      std::vector<std::atomic<int>> busy(threads);  // a worker index used by two threads at once shows here
      Executor e(threads);
      const ScheduleTrace trace = e.run([&] {
        return run_tasks(cost, s, [&](std::size_t task, std::size_t worker) {
          ASSERT_LT(worker, threads);
          EXPECT_EQ(busy[worker]++, 0) << "worker " << worker << " held by two threads";
          ++runs[task];
          std::this_thread::yield();
          --busy[worker];
        });
      });
      for (std::size_t t = 0; t < cost.size(); ++t) EXPECT_EQ(runs[t].load(), 1) << schedule_name(s) << ", task " << t;
      EXPECT_EQ(trace.workers, threads);
      for (std::size_t t = 0; t < cost.size(); ++t) {
        EXPECT_LE(trace.start_us[t], trace.end_us[t]);
        EXPECT_LE(trace.end_us[t], trace.makespan_us);
      }
      EXPECT_GE(trace.makespan_us, trace.lower_bound_us() * 0.999);
    }
}

TEST(ScheduleTest, LongestFirstStartsTheTasksLargestFirst) {
  const std::vector<double> cost{3, 9, 1, 7, 7, 2};
  Executor one(1);
  std::vector<std::size_t> order;
  one.run([&] { return run_tasks(cost, Schedule::longest_first, [&](std::size_t task, std::size_t) { order.push_back(task); }); });
  EXPECT_EQ(order, (std::vector<std::size_t>{1, 3, 4, 0, 5, 2}));  // ties in the order given
  order.clear();
  one.run([&] { return run_tasks(cost, Schedule::work_stealing, [&](std::size_t task, std::size_t) { order.push_back(task); }); });
  EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5}));  // one worker: the order given
}

TEST(ScheduleTest, AnExceptionReachesTheCaller) {
  Executor two(2);
  for (Schedule s : {Schedule::longest_first, Schedule::work_stealing})
    EXPECT_THROW(two.run([&] {
                   return run_tasks(std::vector<double>(9, 1.0), s, [](std::size_t task, std::size_t) {
                     if (task == 4) throw ConfigError("task 4 fails");
                   });
                 }),
                 ConfigError);
}

TEST(ScheduleTest, TheTraceSumsAsDefined) {
  ScheduleTrace t;
  t.workers = 2;
  t.worker = {0, 1, 1};
  t.start_us = {0, 0, 10};
  t.end_us = {30, 10, 20};
  t.makespan_us = 30;
  EXPECT_EQ(t.busy_us(), (std::vector<double>{30, 20}));
  EXPECT_DOUBLE_EQ(t.imbalance(), 30.0 / 25.0);
  EXPECT_DOUBLE_EQ(t.lower_bound_us(), 30);  // the longest task: 30 > 50 / 2
  t.end_us[0] = 12;
  EXPECT_DOUBLE_EQ(t.lower_bound_us(), 16);  // the mean: 32 / 2 > 12
  EXPECT_EQ(ScheduleTrace{}.lower_bound_us(), 0);
  EXPECT_EQ(schedule_name(Schedule::longest_first), "longest-first");
}

}  // namespace
}  // namespace parcnn::test
