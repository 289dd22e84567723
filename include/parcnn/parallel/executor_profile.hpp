// parcnn/parallel/executor_profile.hpp — what a plan is made for: the workers that will run it, whether
// a team keeps them awake between a pass's cuts, and what handing work between them costs.
//
// A plan (parcnn/plan/) is built once from a profile and the strategies decide from it alone, so the
// same model, input and profile always give the same plan, wherever it is built. `current()` reads the
// calling scope's (an executor's scope, or oneTBB's default arena); a profile written by hand describes an
// executor that is not at hand (a plan printed for 2 workers on a 1-core machine).
#pragma once

#include <cmath>
#include <cstddef>

#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>

#include "parcnn/parallel/team.hpp"

namespace parcnn {

// The number of hardware threads oneTBB would use by default.
inline std::size_t hardware_threads() { return static_cast<std::size_t>(tbb::info::default_concurrency()); }

// The workers of the arena the caller runs in: the number of blocks that may run at once here.
inline std::size_t current_workers() {
  const int n = tbb::this_task_arena::max_concurrency();
  return n > 0 ? static_cast<std::size_t>(n) : 1;
}


struct ExecutorProfile {
  std::size_t workers = 1;
  // Whether a team keeps the workers between a pass's cuts (an executor's scope does): a cut then costs a
  // hand-off to spinning helpers instead of a oneTBB fork-join (strategy::Auto::in_team).
  bool team = false;
  // The round trip of a cache line between two workers, in ns, as measured (Team::measured_hand_off_ns);
  // 0 when not measured. strategy::Auto scales the costs of its cuts by it.
  double hand_off_ns = 0;

  ExecutorProfile() = default;
  explicit ExecutorProfile(std::size_t worker_count, bool keeps_team = true, double hand_off = 0)
      : workers(worker_count == 0 ? 1 : worker_count), team(keeps_team && workers > 1), hand_off_ns(hand_off) {}

  // The calling scope's: its workers, whether its executor scope keeps a team of that many, and the
  // hand-off that team measured (asked first outside a run, the team gathers once to measure).
  static ExecutorProfile current() {
    const std::size_t workers = current_workers();
    return ExecutorProfile(workers, Team::scope_keeps(workers), workers > 1 ? Team::measured_hand_off_ns() : 0.0);
  }

  // Whether a plan made for `other` fits this profile: the same workers and team, and hand-offs in the
  // same half-octave (the measurement wanders by tens of percent from one probe to the next; a plan
  // changes only where the cores are placed differently).
  bool fits(const ExecutorProfile& other) const {
    return workers == other.workers && team == other.team && hand_off_class() == other.hand_off_class();
  }

 private:
  int hand_off_class() const { return hand_off_ns > 0 ? int(std::floor(2.0 * std::log2(hand_off_ns))) : -1; }
};

}  // namespace parcnn
