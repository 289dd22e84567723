// parcnn/parallel/executor.hpp — Executor: the workers a caller runs parcnn on, created and passed
// explicitly, as oneDNN passes a stream and Eigen a device.
//
// parcnn keeps no global thread setting. Work runs in the oneTBB arena of the calling thread: by
// default oneTBB's implicit arena (all cores); inside `executor.run(f)` the executor's arena of
// `workers` workers. Nothing outlives the Executor.
//
//   parcnn::Executor two(2);
//   const parcnn::Plan plan = model.plan(x.shape(), parcnn::strategy::Auto{}, two);
//   auto y = model.forward(x, plan, ws, two);          // or two.run([&] { ... }) around any call
//
// Its options: whether a team keeps the workers between the cuts of a layer-by-layer pass
// (parallel/team.hpp), and how long the team's helpers linger, spinning, after each run, so that
// calls in quick succession (a server's requests at batch 1) do not each wait for a sleeping worker.
// Its property: the hand-off measured between its workers (profile()), which plans are made for.
// Keep one Executor for many calls, as with a Workspace.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>

#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>

#include "parcnn/core/error.hpp"
#include "parcnn/parallel/executor_profile.hpp"
#include "parcnn/parallel/happens_before.hpp"
#include "parcnn/parallel/team.hpp"

namespace parcnn {

// arena.execute(f): f runs in `arena`, on this thread or, when the arena has no slot free, on one of
// its workers; the order that gives is told to ThreadSanitizer (parallel/happens_before.hpp).
template <class F>
decltype(auto) execute_in(tbb::task_arena& arena, F&& f) {
  const detail::HappensAfterOnExit after{&arena};  // also on an exception from f
  detail::happens_before(&f);
  return arena.execute([&]() -> decltype(auto) {
    detail::happens_after(&f);
    const detail::HappensBeforeOnExit before{&arena};
    return f();
  });
}

// What an Executor is made with besides its worker count.
struct ExecutorOptions {
  // How long a team's helpers spin after a run before they go back to oneTBB (and, with nothing else
  // to do, to sleep): a sleeping worker takes longer to wake than a forward at batch 1 takes
  // (docs/strategies.md, Teams). OpenMP runtimes spin longer (Intel's for 200 ms by default).
  static constexpr std::chrono::microseconds default_linger{5000};

  // Whether a team keeps the workers between the cuts of a layer-by-layer pass; without one, every
  // cut forks and joins through oneTBB.
  bool team = true;
  std::chrono::microseconds linger = default_linger;
};

class Executor {
 public:
  static constexpr std::chrono::microseconds default_linger = ExecutorOptions::default_linger;

  // `count` threads, 1 or more. More than hardware_threads() is allowed (the cores are then shared),
  // which lets tests exercise a 3-way cut on a 2-core machine; helpers then never linger, as they
  // would spin on a core another thread needs.
  explicit Executor(std::size_t count, std::chrono::microseconds linger = default_linger)
      : Executor(count, ExecutorOptions{true, linger}) {}
  Executor(std::size_t count, const ExecutorOptions& options)
      : count_(checked(count)),
        keeps_team_(options.team),
        arena_(static_cast<int>(count_)),
        team_(count_, count_ <= hardware_threads() ? std::chrono::nanoseconds(options.linger)
                                                   : std::chrono::nanoseconds(0)) {}
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;
  ~Executor() {
    arena_.execute([&] { team_.close(); });  // inside the arena: it may run unstarted helper tasks itself
  }

  std::size_t count() const { return count_; }
  bool keeps_team() const { return keeps_team_; }

  // Runs f() with `count` workers available to every strategy inside it; returns what f returns.
  template <class F>
  decltype(auto) run(F&& f) {
    return execute_in(arena_, [&]() -> decltype(auto) {
      Team::Scope scope(keeps_team_ ? &team_ : nullptr);
      return f();
    });
  }

  // What plans for this executor are made for: its workers, its team, and the hand-off between its
  // workers as its team measured it (the first time, the team gathers once to measure; the figure
  // then stays, and plans with it, until remeasure_hand_off).
  ExecutorProfile profile() {
    return run([] { return ExecutorProfile::current(); });
  }

  // Measures the hand-off again at the next run (the host may have moved its vCPUs apart or together:
  // a plan made before keeps the old figure; a forward under a strategy makes a new plan). Returns
  // false while another thread runs a pass on this executor.
  bool remeasure_hand_off() { return team_.forget_hand_off(); }

 private:
  static std::size_t checked(std::size_t count) {
    if (count == 0) throw ConfigError("Executor: the thread count must be at least 1, got 0");
    if (count > 4096) throw ConfigError("Executor: a thread count of " + std::to_string(count) + " is not plausible");
    return count;
  }

  std::size_t count_;
  bool keeps_team_;
  tbb::task_arena arena_;
  Team team_;
};

// Runs f() with `count` threads: a one-off executor scope.
template <class F>
decltype(auto) with_threads(std::size_t count, F&& f) {
  Executor t(count);
  return t.run(std::forward<F>(f));
}

}  // namespace parcnn
