// parcnn/parallel/schedule.hpp — many independent tasks of uneven size over the workers: longest first,
// or oneTBB's work stealing.
//
// run_tasks(cost, schedule, f) calls f(task, worker) once for every task, on the calling scope's
// workers (current_workers()), `worker` below that count and held by one thread at a time, so that a
// caller keeps one workspace per worker. Schedules:
//   longest_first  the tasks by estimated cost, largest first, each taken by the next worker to come
//                  free: Graham's LPT list scheduling, whose makespan is within 4/3 of the optimum for
//                  exact costs, and which an error in the estimates only reorders
//   work_stealing  oneTBB's parallel_for over the tasks in the order given, one task a range: idle
//                  workers steal halves of what others have left, blind to the sizes; a large task met
//                  last finishes alone
// ScheduleTrace records who ran what when: each worker's busy time, the imbalance (busiest over mean)
// and the makespan against its lower bound max(total / workers, longest task).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <numeric>
#include <string>
#include <vector>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include "parcnn/core/error.hpp"
#include "parcnn/parallel/happens_before.hpp"
#include "parcnn/parallel/index_space.hpp"
#include "parcnn/parallel/run.hpp"
#include "parcnn/parallel/team.hpp"

namespace parcnn {

enum class Schedule { longest_first, work_stealing };

inline std::string schedule_name(Schedule s) { return s == Schedule::longest_first ? "longest-first" : "work-stealing"; }

struct ScheduleTrace {
  std::size_t workers = 0;
  std::vector<std::size_t> worker;         // per task: who ran it
  std::vector<double> start_us, end_us;    // per task, from the run's start
  double makespan_us = 0;                  // the run's start to the last task's end

  double duration_us(std::size_t task) const { return end_us[task] - start_us[task]; }

  std::vector<double> busy_us() const {
    std::vector<double> busy(workers, 0);
    for (std::size_t t = 0; t < worker.size(); ++t) busy[worker[t]] += duration_us(t);
    return busy;
  }

  // The busiest worker's time over the mean: 1 is perfect balance.
  double imbalance() const {
    const std::vector<double> busy = busy_us();
    const double total = std::accumulate(busy.begin(), busy.end(), 0.0);
    return total > 0 ? *std::max_element(busy.begin(), busy.end()) * double(workers) / total : 1;
  }

  // No schedule of these tasks' measured durations finishes sooner: max(total / workers, longest).
  double lower_bound_us() const {
    double total = 0, longest = 0;
    for (std::size_t t = 0; t < worker.size(); ++t) total += duration_us(t), longest = std::max(longest, duration_us(t));
    return std::max(total / double(std::max<std::size_t>(workers, 1)), longest);
  }
};

template <class F>
ScheduleTrace run_tasks(const std::vector<double>& cost, Schedule schedule, F&& f) {
  const std::size_t n = cost.size(), workers = current_workers();
  ScheduleTrace trace;
  trace.workers = workers;
  trace.worker.assign(n, 0);
  trace.start_us.assign(n, 0);
  trace.end_us.assign(n, 0);
  if (n == 0) return trace;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point t0 = Clock::now();
  const auto since = [&] { return std::chrono::duration<double, std::micro>(Clock::now() - t0).count(); };
  const auto run = [&](std::size_t task, std::size_t worker) {
    trace.worker[task] = worker;
    trace.start_us[task] = since();
    f(task, worker);
    trace.end_us[task] = since();
  };
  if (schedule == Schedule::longest_first) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return cost[a] > cost[b]; });
    std::atomic<std::size_t> next{0};
    // One block per worker, each taking the largest task left until none is: the claim is the schedule.
    run_blocks(IndexSpace{workers}, Cut{}, [&](const Block&, std::size_t worker) {
      for (std::size_t i = next++; i < n; i = next++) run(order[i], worker);
    });
  } else {
    Team::release_lingering();  // oneTBB's workers, not spinning in a team
    detail::SlotOrder slots(workers);
    detail::happens_before(&trace);
    const detail::HappensAfterOnExit joined{&trace};
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, 1), [&](const tbb::blocked_range<std::size_t>& r) {
      detail::happens_after(&trace);
      const detail::HappensBeforeOnExit done{&trace};
      const std::size_t worker = static_cast<std::size_t>(tbb::this_task_arena::current_thread_index());
      slots.enter(worker);
      for (std::size_t task = r.begin(); task < r.end(); ++task) run(task, worker);
      slots.leave(worker);
    }, tbb::simple_partitioner{});
  }
  trace.makespan_us = since();
  return trace;
}

}  // namespace parcnn
