// parcnn/parallel/threads.hpp — how many threads the strategies may use, per scope.
//
// parcnn keeps no global thread setting. Work runs in the oneTBB arena of the calling thread: by
// default oneTBB's implicit arena (all cores); inside `Threads(n).run(f)` an arena of n slots. Nothing
// outlives the Threads object.
//
//   parcnn::Threads two(2);
//   auto y = two.run([&] { return model.forward(x, parcnn::strategy::Batch{}); });
//
// A Threads object also keeps the team that runs a model's layer-by-layer passes (parallel/team.hpp)
// from one run to the next: its helpers spin for `linger` after each, so that calls in quick
// succession (a server's requests at batch 1) do not each wait for a sleeping worker. Keep one
// Threads object for many calls, as with a Workspace.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>

#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>

#include "parcnn/core/error.hpp"
#include "parcnn/parallel/happens_before.hpp"
#include "parcnn/parallel/team.hpp"

namespace parcnn {

// The number of hardware threads oneTBB would use by default.
inline std::size_t hardware_threads() { return static_cast<std::size_t>(tbb::info::default_concurrency()); }

// Worker slots of the arena the caller runs in: the number of blocks that may run at once here.
inline std::size_t current_workers() {
  const int n = tbb::this_task_arena::max_concurrency();
  return n > 0 ? static_cast<std::size_t>(n) : 1;
}

// arena.execute(f): f runs in `arena`, on this thread or, when the arena has no slot free, on one of
// its workers; the order that gives is told to ThreadSanitizer (parallel/happens_before.hpp).
template <class F>
decltype(auto) execute_in(tbb::task_arena& arena, F&& f) {
  struct After {  // also on an exception from f
    const void* key;
    ~After() { detail::happens_after(key); }
  } after{&arena};
  detail::happens_before(&f);
  return arena.execute([&]() -> decltype(auto) {
    detail::happens_after(&f);
    const struct Before {
      const void* key;
      ~Before() { detail::happens_before(key); }
    } before{&arena};
    return f();
  });
}

class Threads {
 public:
  // How long a team's helpers spin after a run before they go back to oneTBB (and, with nothing
  // else to do, to sleep): at most 5 ms of one core after the last call. A sleeping worker takes
  // 20–60 µs to wake here (at times a whole 4 ms scheduler tick), against 30–50 µs for a forward at
  // batch 1. network_bench's letter_cnn_paced, batch 1, auto on 2 threads, medians (one thread,
  // sequential: 50.5 µs after 200 µs pauses, 58.9 after 2 ms pauses): after 200 µs pauses 61.2 µs
  // without a kept team, 40.8 with one; after 2 ms pauses 69.7 with a 1 ms linger, 40.3 with 5 ms.
  // OpenMP runtimes spin longer (Intel's for 200 ms by default).
  static constexpr std::chrono::microseconds default_linger{5000};

  // `count` threads, 1 or more. More than hardware_threads() is allowed (the cores are then shared),
  // which lets tests exercise a 3-way cut on a 2-core machine; helpers then never linger, as they
  // would spin on a core another thread needs.
  explicit Threads(std::size_t count, std::chrono::microseconds linger = default_linger)
      : count_(checked(count)),
        arena_(static_cast<int>(count_)),
        team_(count_, count_ <= hardware_threads() ? std::chrono::nanoseconds(linger) : std::chrono::nanoseconds(0)) {}
  Threads(const Threads&) = delete;
  Threads& operator=(const Threads&) = delete;
  ~Threads() {
    arena_.execute([&] { team_.close(); });  // inside the arena: it may run unstarted helper tasks itself
  }

  std::size_t count() const { return count_; }

  // Runs f() with `count` worker slots available to every strategy inside it; returns what f returns.
  template <class F>
  decltype(auto) run(F&& f) {
    return execute_in(arena_, [&]() -> decltype(auto) {
      Team::Scope scope(team_);
      return f();
    });
  }

 private:
  static std::size_t checked(std::size_t count) {
    if (count == 0) throw ConfigError("Threads: the thread count must be at least 1, got 0");
    if (count > 4096) throw ConfigError("Threads: a thread count of " + std::to_string(count) + " is not plausible");
    return count;
  }

  std::size_t count_;
  tbb::task_arena arena_;
  Team team_;
};

// Runs f() with `count` threads: a one-off Threads scope.
template <class F>
decltype(auto) with_threads(std::size_t count, F&& f) {
  Threads t(count);
  return t.run(std::forward<F>(f));
}

}  // namespace parcnn
