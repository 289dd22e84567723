// parcnn/parallel/pipeline.hpp — items through a chain of stages, each stage on its own executor.
//
// run_pipeline(executors, items, in_flight, body) calls body(stage, item, slot) for every stage and
// item: each stage takes the items in order, one at a time, inside its own executor's arena (its
// workers cut the stage's work as they would any call), and at most `in_flight` items are between the
// first stage's start and the last stage's end. `slot` = item % in_flight: no two items in flight
// share one, so a caller keeps one buffer per slot. oneTBB's parallel_pipeline does the scheduling
// (serial in-order filters), in an arena of one thread per stage owned by the call. An exception from
// body stops the pipeline and is rethrown to the caller.
//
// PipelineTrace records when each stage started and ended each item: the fill and drain bubble against
// its formula, each stage's busy time, and each item's latency through the stages.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include "parcnn/core/error.hpp"
#include "parcnn/parallel/executor.hpp"
#include "parcnn/parallel/happens_before.hpp"

namespace parcnn {

struct PipelineTrace {
  std::size_t stages = 0, items = 0;
  std::vector<double> start_us, end_us;  // [item · stages + stage], from the run's start

  double start(std::size_t item, std::size_t stage) const { return start_us[item * stages + stage]; }
  double end(std::size_t item, std::size_t stage) const { return end_us[item * stages + stage]; }

  // From the first stage's first start to the last stage's last end.
  double makespan_us() const { return items == 0 ? 0 : end(items - 1, stages - 1) - start(0, 0); }

  double busy_us(std::size_t stage) const {
    double sum = 0;
    for (std::size_t i = 0; i < items; ++i) sum += end(i, stage) - start(i, stage);
    return sum;
  }

  // The share of the stages' time lost to filling and draining: each stage's wait before its first item
  // and after its last, over stages × makespan. For stages of equal time t it is (S − 1)·t per stage
  // out of (M + S − 1)·t: ideal_bubble.
  double bubble() const {
    if (items == 0) return 0;
    const double t0 = start(0, 0), t1 = end(items - 1, stages - 1);
    double idle = 0;
    for (std::size_t s = 0; s < stages; ++s) idle += (start(0, s) - t0) + (t1 - end(items - 1, s));
    return idle / (double(stages) * (t1 - t0));
  }

  // (S − 1) / (M + S − 1): the bubble of S stages of equal time over M items.
  static double ideal_bubble(std::size_t stages, std::size_t items) {
    return items == 0 ? 0 : double(stages - 1) / double(items + stages - 1);
  }
  double ideal_bubble() const { return ideal_bubble(stages, items); }

  // The share of the stages' time not spent on items, bubble included (uneven stages wait on the
  // slowest between items too).
  double idle_share() const {
    if (items == 0) return 0;
    double busy = 0;
    for (std::size_t s = 0; s < stages; ++s) busy += busy_us(s);
    return 1 - busy / (double(stages) * makespan_us());
  }

  // Each item's time from its first stage's start to its last stage's end, in item order.
  std::vector<double> latencies_us() const {
    std::vector<double> out(items);
    for (std::size_t i = 0; i < items; ++i) out[i] = end(i, stages - 1) - start(i, 0);
    return out;
  }
};

template <class Body>
PipelineTrace run_pipeline(const std::vector<Executor*>& executors, std::size_t items, std::size_t in_flight,
                           Body&& body) {
  const std::size_t S = executors.size();
  if (S == 0) throw ConfigError("run_pipeline: no stages");
  for (const Executor* e : executors)
    if (!e) throw ConfigError("run_pipeline: a stage has no executor");
  if (in_flight == 0) throw ConfigError("run_pipeline: at least one item must be in flight, got 0");
  PipelineTrace trace;
  trace.stages = S, trace.items = items;
  trace.start_us.assign(items * S, 0);
  trace.end_us.assign(items * S, 0);
  if (items == 0) return trace;

  // Each filter call after every earlier one, for ThreadSanitizer (oneTBB orders them; TSan does not
  // see it): a stage reads what the stage before wrote into the item's slot.
  struct Ordered : detail::HappensBeforeOnExit {
    explicit Ordered(const void* k) : HappensBeforeOnExit{k} { detail::happens_after(k); }
  };
  using Clock = std::chrono::steady_clock;
  const Clock::time_point t0 = Clock::now();
  const auto since = [&] { return std::chrono::duration<double, std::micro>(Clock::now() - t0).count(); };
  std::size_t next = 0;
  tbb::filter<void, std::size_t> chain(tbb::filter_mode::serial_in_order,
                                       [&](tbb::flow_control& fc) -> std::size_t {
                                         const Ordered order{&trace};
                                         if (next == items) fc.stop();
                                         return next++;
                                       });
  for (std::size_t s = 0; s < S; ++s)
    chain = chain & tbb::filter<std::size_t, std::size_t>(tbb::filter_mode::serial_in_order, [&, s](std::size_t i) {
              const Ordered order{&trace};
              trace.start_us[i * S + s] = since();
              executors[s]->run([&] { body(s, i, i % in_flight); });
              trace.end_us[i * S + s] = since();
              return i;
            });
  // A thread for each stage to run its items on, as many as there are cores: with fewer, the threads
  // take turns at the stages. oneTBB's threads are as many as the cores, so these would take the
  // workers the stages' executors count on: for the run, as many more are allowed as those need.
  const std::size_t drivers = std::min(S, std::max<std::size_t>(1, hardware_threads()));
  std::size_t threads = drivers;
  for (const Executor* e : executors) threads += e->count() - 1;
  const std::size_t allowed = tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
  tbb::global_control enough(tbb::global_control::max_allowed_parallelism, std::max(allowed, threads));
  tbb::task_arena arena(static_cast<int>(drivers));
  detail::happens_before(&trace);
  {
    const detail::HappensAfterOnExit joined{&trace};  // the trace is read, or freed, after every call
    execute_in(arena, [&] {
      tbb::parallel_pipeline(in_flight, chain & tbb::filter<std::size_t, void>(tbb::filter_mode::parallel, [](std::size_t) {}));
    });
  }
  return trace;
}

}  // namespace parcnn
