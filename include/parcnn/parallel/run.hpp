// parcnn/parallel/run.hpp — hands the blocks of a cut to oneTBB, or to the team the caller leads.
//
// The kernel is called as kernel(const Block&, std::size_t worker) once per block. `worker` is the
// calling thread's index in the current arena (oneTBB's slot), below current_workers(): a layer gives
// each worker its own scratch memory, planned before the run. Blocks are fixed by the cut, never by work stealing, so a
// strategy with a given thread count computes the same values on every run. Inside Team::run
// (parallel/team.hpp) the blocks go to the team's spinning helpers instead of a fork-join, and `worker`
// is the thread's index in the team.
#pragma once

#include <cassert>
#include <cstddef>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include "parcnn/parallel/happens_before.hpp"
#include "parcnn/parallel/index_space.hpp"
#include "parcnn/parallel/team.hpp"

namespace parcnn {

template <class Kernel>
void run_blocks(const IndexSpace& space, const Cut& cut, Kernel&& kernel) {
  const BlockGrid grid(space, cut);
  const std::size_t count = grid.count();
  if (count == 0) return;
  if (count == 1) {
    kernel(grid.block(0), std::size_t{0});  // one block: no task, worker 0's scratch
    return;
  }
  if (Team* team = Team::publishing()) {
    team->run_blocks(grid, kernel);
    return;
  }
  Team::release_lingering();  // the fork needs oneTBB's workers, not spinning in a team
  detail::SlotOrder slots(static_cast<std::size_t>(tbb::this_task_arena::max_concurrency()));
  detail::happens_before(&grid);
  const detail::HappensAfterOnExit joined{&kernel};
  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, count, 1),
      [&](const tbb::blocked_range<std::size_t>& r) {
        detail::happens_after(&grid);
        const detail::HappensBeforeOnExit done{&kernel};
        const int worker = tbb::this_task_arena::current_thread_index();
        assert(worker >= 0);
        const auto slot = static_cast<std::size_t>(worker);
        slots.enter(slot);
        for (std::size_t i = r.begin(); i != r.end(); ++i) kernel(grid.block(i), slot);
        slots.leave(slot);
      },
      tbb::simple_partitioner());
}

// The workers whose scratch a run of `grid` can touch: one when it runs as a single block on the
// calling thread (as every layer does inside a depth-first block of a model), otherwise every worker.
inline std::size_t scratch_workers(const BlockGrid& grid, std::size_t workers) { return grid.count() > 1 ? workers : 1; }

}  // namespace parcnn
