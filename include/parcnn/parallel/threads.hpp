// parcnn/parallel/threads.hpp — how many threads the strategies may use, per scope.
//
// parcnn keeps no global thread setting. Work runs in the oneTBB arena of the calling thread: by
// default oneTBB's implicit arena (all cores); inside `Threads(n).run(f)` an arena of n slots. Nothing
// outlives the Threads object.
//
//   parcnn::Threads two(2);
//   auto y = two.run([&] { return model.forward(x, parcnn::strategy::Batch{}); });
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>

#include "parcnn/core/error.hpp"

namespace parcnn {

// The number of hardware threads oneTBB would use by default.
inline std::size_t hardware_threads() { return static_cast<std::size_t>(tbb::info::default_concurrency()); }

// Worker slots of the arena the caller runs in: the number of blocks that may run at once here.
inline std::size_t current_workers() {
  const int n = tbb::this_task_arena::max_concurrency();
  return n > 0 ? static_cast<std::size_t>(n) : 1;
}

class Threads {
 public:
  // `count` threads, 1 or more. More than hardware_threads() is allowed (the cores are then shared),
  // which lets tests exercise a 3-way cut on a 2-core machine.
  explicit Threads(std::size_t count) : count_(checked(count)), arena_(static_cast<int>(count_)) {}

  std::size_t count() const { return count_; }

  // Runs f() with `count` worker slots available to every strategy inside it; returns what f returns.
  template <class F>
  decltype(auto) run(F&& f) {
    return arena_.execute(std::forward<F>(f));
  }

 private:
  static std::size_t checked(std::size_t count) {
    if (count == 0) throw ConfigError("Threads: the thread count must be at least 1, got 0");
    if (count > 4096) throw ConfigError("Threads: a thread count of " + std::to_string(count) + " is not plausible");
    return count;
  }

  std::size_t count_;
  tbb::task_arena arena_;
};

// Runs f() with `count` threads: a one-off Threads scope.
template <class F>
decltype(auto) with_threads(std::size_t count, F&& f) {
  Threads t(count);
  return t.run(std::forward<F>(f));
}

}  // namespace parcnn
