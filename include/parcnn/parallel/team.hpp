// parcnn/parallel/team.hpp — Team: helpers that stay awake for a run of many short parallel steps.
//
// Every run_blocks hands its blocks to oneTBB, and each such fork-join costs its own wake-up and
// join: on two cores here run_blocks of two 1 µs blocks takes 2.2 µs through oneTBB and 1.3 µs
// through a team (one run; how far apart the host places the two vCPUs moves both: 2.4 µs through a
// team in another run). A model at batch 1 forks a dozen times per forward (channel and spatial cuts
// of a few µs each), and whether the other core's worker is still awake when the next cut comes
// decides whether the cut pays at all.
//
// Inside `Team::run(workers, f)` the calling thread leads a team: up to workers − 1 helpers, oneTBB
// tasks of the current arena, spin (with a pause) for the length of f, and every run_blocks the leader
// calls publishes its blocks to them instead of forking. Only the blocks are shared: everything else
// in f runs on the leader alone, as before.
//
// The same blocks and the same bits as with oneTBB. No deadlock, whether or not a helper ever starts:
// blocks are claimed, never assigned; the leader claims whatever no helper has taken and waits only
// for blocks a helper is running. Each participant first claims from its own share of the blocks (the
// same share on every call, so a layer's weight rows stay in the same core's cache), then from the
// others'. A run_blocks inside a block, or on a helper, runs through oneTBB as usual.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>

#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include "parcnn/parallel/index_space.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace parcnn {

namespace detail {
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
}  // namespace detail

class Team {
 public:
  static constexpr std::size_t max_participants = 64;

  // Runs f() on the calling thread, leading a team of up to `workers` − 1 helpers in the current arena;
  // returns once f has returned and every helper has left. With one worker, or inside another team's
  // run, just runs f().
  template <class F>
  static void run(std::size_t workers, F&& f) {
    if (workers <= 1 || leader() != nullptr) {
      f();
      return;
    }
    Team team(std::min(workers, max_participants));
    tbb::task_group helpers;
    for (std::size_t p = 1; p < team.parts_; ++p) helpers.run([&team, p] { team.help(p); });
    leader() = &team;
    struct Release {  // also on an exception from f: stop the helpers before the team goes
      Team& team;
      tbb::task_group& helpers;
      ~Release() {
        leader() = nullptr;
        team.stop_.store(true, std::memory_order_release);
        helpers.wait();
      }
    } release{team, helpers};
    f();
  }

  // The team the calling thread leads, when it may publish blocks now (not from inside one of its own
  // blocks); else nullptr.
  static Team* publishing() {
    Team* t = leader();
    return t && !t->in_job_ ? t : nullptr;
  }

  // Runs every block of `grid` as kernel(block, slot) on the leader and whichever helpers join; returns
  // when all have run. `slot` is the running thread's slot in the arena, as with run_blocks. An
  // exception from a block is rethrown here once every block has run or been skipped.
  template <class Kernel>
  void run_blocks(const BlockGrid& grid, Kernel& kernel) {
    // Close the job board (an odd generation) and wait until no helper is still reading the last job.
    const std::uint64_t g = generation_.load(std::memory_order_relaxed);
    generation_.store(g + 1, std::memory_order_seq_cst);
    while (active_.load(std::memory_order_seq_cst) != 0) detail::cpu_relax();
    grid_ = &grid;
    kernel_ = const_cast<void*>(static_cast<const void*>(&kernel));
    call_ = [](void* k, const Block& b, std::size_t slot) { (*static_cast<Kernel*>(k))(b, slot); };
    count_ = grid.count();
    for (std::size_t q = 0; q < parts_; ++q) {
      shares_[q].next.store(q * count_ / parts_, std::memory_order_relaxed);
      shares_[q].end = (q + 1) * count_ / parts_;
    }
    done_.store(0, std::memory_order_relaxed);
    failed_.store(false, std::memory_order_relaxed);
    error_ = nullptr;
    in_job_ = true;
    generation_.store(g + 2, std::memory_order_release);  // open: helpers may claim
    work(0);
    while (done_.load(std::memory_order_acquire) < count_) detail::cpu_relax();
    in_job_ = false;
    if (failed_.load(std::memory_order_acquire)) std::rethrow_exception(error_);
  }

 private:
  explicit Team(std::size_t parts) : parts_(parts) {}

  static Team*& leader() {
    static thread_local Team* t = nullptr;
    return t;
  }

  // Participant p's part: claim and run blocks until none is left to claim.
  void work(std::size_t p) {
    const int slot = tbb::this_task_arena::current_thread_index();
    const std::size_t s = slot >= 0 ? static_cast<std::size_t>(slot) : 0;
    for (std::size_t q = 0; q < parts_; ++q) {
      Share& share = shares_[(p + q) % parts_];
      for (std::size_t i; (i = share.next.fetch_add(1, std::memory_order_relaxed)) < share.end;) {
        if (!failed_.load(std::memory_order_relaxed)) {
          try {
            call_(kernel_, grid_->block(i), s);
          } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex_);
            if (!failed_.load(std::memory_order_relaxed)) error_ = std::current_exception();
            failed_.store(true, std::memory_order_release);
          }
        }
        done_.fetch_add(1, std::memory_order_acq_rel);
      }
    }
  }

  // A helper: spin until the leader stops the team, joining each job it publishes.
  void help(std::size_t p) {
    std::uint64_t seen = 0;
    while (!stop_.load(std::memory_order_acquire)) {
      const std::uint64_t g = generation_.load(std::memory_order_acquire);
      if (g == seen || (g & 1) != 0) {
        detail::cpu_relax();
        continue;
      }
      active_.fetch_add(1, std::memory_order_seq_cst);
      if (generation_.load(std::memory_order_seq_cst) == g) {  // still that job: its fields are complete
        work(p);
        seen = g;
      }
      active_.fetch_sub(1, std::memory_order_release);
    }
  }

  struct alignas(64) Share {
    std::atomic<std::size_t> next{0};
    std::size_t end = 0;
  };

  const std::size_t parts_;
  bool in_job_ = false;  // the leader's only
  alignas(64) std::atomic<std::uint64_t> generation_{0};  // odd: being written; even: published
  alignas(64) std::atomic<std::size_t> active_{0};        // helpers reading the current job
  alignas(64) std::atomic<std::size_t> done_{0};
  alignas(64) std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
  std::mutex error_mutex_;
  const BlockGrid* grid_ = nullptr;
  void* kernel_ = nullptr;
  void (*call_)(void*, const Block&, std::size_t) = nullptr;
  std::size_t count_ = 0;
  Share shares_[max_participants];
};

}  // namespace parcnn
