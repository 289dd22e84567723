// parcnn/parallel/team.hpp — Team: helpers that stay awake for a run of many short parallel steps.
//
// Every run_blocks hands its blocks to oneTBB, and each such fork-join costs its own wake-up and
// join. A model at batch 1 forks a dozen times per forward (channel and spatial cuts of a few µs
// each), and whether the other core's worker is still awake when the next cut comes decides whether
// the cut pays at all.
//
// A team belongs to an executor (parallel/executor.hpp), which keeps one for its arena from run to run.
// Inside `Team::run(workers, f)` on the scope's thread, that thread leads the team: up to
// workers − 1 helpers, oneTBB tasks of the scope's arena, spin (with a pause) for the length of f and
// linger, spinning, for the scope's `linger` after it (as OpenMP's threads spin before they sleep), and
// every run_blocks the leader calls publishes its blocks to them instead of forking. Only the blocks
// are shared: everything else in f runs on the leader alone. A fork through oneTBB from the scope's
// thread first sends lingering helpers back to oneTBB, whose workers it needs. The team also times a
// cache line's round trip to its helper once, at its first run with a helper present
// (measured_hand_off_ns): strategy::Auto scales its cut costs by it.
//
// Anywhere else — outside an executor's scope, on a helper, inside a block, on another thread of the
// scope (a user's own parallel loop), while the team is led by another thread — Team::run just calls f
// and every cut goes through oneTBB, which may be nested to any depth.
//
// Never a deadlock, by design: no thread ever waits for a helper task to start. Blocks are claimed,
// never assigned: the leader claims whatever no helper has taken and waits only for blocks a running
// helper is running. A helper task waits in the arena's queue, which oneTBB's threads take from only at
// their outermost level, never while they wait inside a task, so a spinning helper never holds up work
// beneath it; it leaves once the team is idle for its linger or dismissed. Only ~Executor waits for the
// queued tasks, from inside its own arena, where the calling thread may take them itself.
// The same blocks and the same bits as with oneTBB. Each worker first claims from its own share
// of the blocks (the same share on every call, so a layer's weight rows stay in the same core's
// cache), then from the others'.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>

#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include "parcnn/parallel/happens_before.hpp"
#include "parcnn/parallel/index_space.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace parcnn {

class Executor;

namespace detail {
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

inline std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace detail

class Team {
 public:
  static constexpr std::size_t max_workers = 64;

  Team(const Team&) = delete;
  Team& operator=(const Team&) = delete;
  ~Team() { close(); }

  // Runs f() on the calling thread; where can_lead(workers), leading the executor's scope's team of
  // `workers` workers, whose helpers stay for the scope's linger after f returns. Anywhere else
  // just runs f(), and run_blocks inside it goes through oneTBB.
  template <class F>
  static void run(std::size_t workers, F&& f) {
    if (!can_lead(workers)) {
      f();
      return;
    }
    Team* kept = scope();
    if (!kept->try_hold()) {  // another thread of the scope leads it now
      f();
      return;
    }
    const Held held{*kept};
    kept->lead(f);
  }

  // Whether Team::run(workers, f) here would lead a team: the calling thread is in an executor's scope whose
  // team has `workers` (> 1) workers, leads none already, and no other thread leads that team now.
  static bool can_lead(std::size_t workers) {
    const Team* kept = scope();
    return workers > 1 && leader() == nullptr && kept != nullptr &&
           kept->workers_ == std::min(workers, max_workers) && !kept->held_.load(std::memory_order_relaxed);
  }

  // Whether the calling thread is in an executor's scope whose team has `workers` (> 1) workers: where
  // a pass may keep its workers in a team (whether it can lead it then is can_lead's question).
  static bool scope_keeps(std::size_t workers) {
    const Team* kept = scope();
    return workers > 1 && kept != nullptr && kept->workers_ == std::min(workers, max_workers);
  }

  // The team the calling thread leads, when it may publish blocks now (not from inside one of its own
  // blocks); else nullptr.
  static Team* publishing() {
    Team* t = leader();
    return t && !t->in_job_ ? t : nullptr;
  }

  // Before the calling thread forks through oneTBB: the lingering helpers of its scope's team, if
  // that team is idle, go back to oneTBB, where the fork needs its workers. Cheap when none linger.
  static void release_lingering() {
    Team* kept = scope();
    if (kept == nullptr || !kept->lingering() || !kept->try_hold()) return;
    const Held held{*kept};
    kept->dismiss();
  }

  // The round trip of one cache line between this thread and a helper of its executor scope's team, in
  // ns, measured once, at the start of the first run with a helper present (tried again at most every
  // 0.1 s until it succeeds, and after forget_hand_off); 0 when not measured. A property of the team,
  // so that plans made for it stay made. About 110 ns when the host puts the two vCPUs close, 500–560 ns when far apart —
  // where every cut inside an image costs several times more (strategy::Auto scales by it). Asked
  // first outside a run (a layer run on its own, a plan printed before any run), the team gathers
  // once to measure, waiting up to 1 ms for its helper to start.
  static double measured_hand_off_ns() {
    Team* kept = scope();
    if (kept == nullptr) return 0.0;
    if (kept->hand_off_ns_.load(std::memory_order_relaxed) == 0.0 && leader() == nullptr && kept->linger_ns_ > 0 &&
        kept->workers_ > 1 && kept->try_hold()) {
      const Held held{*kept};
      auto measure = [kept] { kept->probe_hand_off(1'000'000); };
      kept->lead(measure);
    }
    return kept->hand_off_ns_.load(std::memory_order_relaxed);
  }

  // Forgets the measured hand-off, so that the next run measures it again (Executor::remeasure_hand_off).
  // Returns false, forgetting nothing, while another thread leads the team.
  bool forget_hand_off() {
    if (!try_hold()) return false;
    const Held held{*this};
    hand_off_ns_.store(0.0, std::memory_order_relaxed);
    probed_at_ns_ = -2'000'000'000;
    return true;
  }

  // Makes `team` the calling thread's kept team for its lifetime (Executor::run), then restores the
  // previous one.
  class Scope {
   public:
    explicit Scope(Team* team) : previous_(scope()) { scope() = team; }  // null: no team here
    ~Scope() { scope() = previous_; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Team* previous_;
  };

  // Runs every block of `grid` as kernel(block, worker) on the leader and whichever helpers join; returns
  // when all have run. `worker` is the worker's number in the team (the leader's 0), below the
  // team's size and so below current_workers(), and no two workers share one: it indexes the
  // layer's scratch as the arena slot does with oneTBB. An exception from a block is rethrown here once
  // every block has run or been skipped.
  template <class Kernel>
  void run_blocks(const BlockGrid& grid, Kernel& kernel) {
    // Close the job board (an odd generation) and wait until no helper is still reading the last job.
    const std::uint64_t g = generation_.load(std::memory_order_relaxed);
    generation_.store(g + 1, std::memory_order_seq_cst);
    while (active_.load(std::memory_order_seq_cst) != 0) detail::cpu_relax();
    grid_ = &grid;
    kernel_ = const_cast<void*>(static_cast<const void*>(&kernel));
    call_ = [](void* k, const Block& b, std::size_t worker) { (*static_cast<Kernel*>(k))(b, worker); };
    count_ = grid.count();
    for (std::size_t q = 0; q < workers_; ++q) {
      shares_[q].next.store(q * count_ / workers_, std::memory_order_relaxed);
      shares_[q].end = (q + 1) * count_ / workers_;
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
  friend class Executor;

  // A team of `workers` workers (the leader and workers − 1 helpers) whose helpers stay for `linger`
  // after each run. Only an executor's scope owns one, and destroys it inside its arena.
  Team(std::size_t workers, std::chrono::nanoseconds linger)
      : workers_(std::clamp<std::size_t>(workers, 1, max_workers)), linger_ns_(linger.count()) {}

  // Sends the helpers away and waits for their tasks; those that never started run here, as no-ops.
  // Only inside the team's own arena (~Executor), where the calling thread may take them itself.
  void close() {
    dismiss();
    helpers_.wait();
    detail::happens_after(&helpers_);
  }

  // A seat per helper: vacant (no task for it), called (a task is queued and may take the seat) or
  // taken (a helper is in its loop). Only the leader calls; only a helper takes and vacates; so one
  // helper at most holds each seat, and its number picks that worker's scratch.
  enum Seat : std::uint8_t { vacant, called, taken };

  static Team*& leader() {
    static thread_local Team* t = nullptr;
    return t;
  }
  static Team*& scope() {
    static thread_local Team* t = nullptr;
    return t;
  }

  // A thread holds a kept team while it leads or dismisses it: try_hold, then a Held to let go.
  bool try_hold() {
    bool expected = false;
    return held_.compare_exchange_strong(expected, true, std::memory_order_acquire);
  }
  struct Held {
    Team& team;
    ~Held() { team.held_.store(false, std::memory_order_release); }
  };

  bool lingering() const {
    for (std::size_t p = 1; p < workers_; ++p)
      if (seats_[p].load(std::memory_order_relaxed) != vacant) return true;
    return false;
  }

  // Leads one run: calls helpers to the vacant seats, runs f, and marks when the team went idle.
  template <class F>
  void lead(F& f) {
    dismissed_.store(false, std::memory_order_relaxed);
    leading_.store(true, std::memory_order_seq_cst);
    for (std::size_t p = 1; p < workers_; ++p) {
      std::uint8_t seat = vacant;
      if (!seats_[p].compare_exchange_strong(seat, called, std::memory_order_seq_cst)) continue;
      // Queued in the arena, not in the leader's own pool: a pool the leader leaves with a task still
      // in it is not one oneTBB's workers look in.
      detail::happens_before(this);
      tbb::this_task_arena::enqueue(helpers_.defer([this, p] {
        detail::happens_after(this);
        help(p);
        detail::happens_before(&helpers_);
      }));
    }
    if (linger_ns_ > 0) probe_hand_off();
    leader() = this;
    struct Idle {  // also on an exception from f
      Team& team;
      ~Idle() {
        leader() = nullptr;
        team.idle_since_ns_.store(detail::steady_ns(), std::memory_order_relaxed);
        team.leading_.store(false, std::memory_order_seq_cst);
      }
    } idle{*this};
    f();
  }

  // Measures hand_off_ns_ against helper 1, unless measured already or the last try is under 0.1 s
  // old: the median of 31
  // round trips of a counter it echoes. Only with the helper in its loop, waited for up to `wait_ns`
  // (a try that waits counts as a try, helper or not). A helper that stops answering (it left) ends
  // the probe without a figure.
  void probe_hand_off(std::int64_t wait_ns = 0) {
    if (hand_off_ns_.load(std::memory_order_relaxed) > 0) return;
    const std::int64_t now = detail::steady_ns();
    if (now - probed_at_ns_ < 100'000'000) return;
    if (wait_ns > 0) probed_at_ns_ = now;
    while (seats_[1].load(std::memory_order_acquire) != taken) {
      if (detail::steady_ns() - now >= wait_ns) return;
      detail::cpu_relax();
    }
    probed_at_ns_ = now;
    constexpr int rounds = 31;
    std::int64_t trips[rounds];
    for (int r = 0; r < rounds; ++r) {
      const std::uint64_t k = ping_.load(std::memory_order_relaxed) + 1;
      const std::int64_t t0 = detail::steady_ns();
      ping_.store(k, std::memory_order_release);
      while (pong_.load(std::memory_order_acquire) != k) {
        if (detail::steady_ns() - t0 > 100'000) return;  // no answer in 100 µs
        detail::cpu_relax();
      }
      trips[r] = detail::steady_ns() - t0;
    }
    std::nth_element(trips, trips + rounds / 2, trips + rounds);
    hand_off_ns_.store(double(trips[rounds / 2]), std::memory_order_relaxed);
  }

  // Sends every helper away and waits until each has left its loop; a called helper that has not
  // started finds its seat vacant and returns at once. Only while no run is being led.
  void dismiss() {
    dismissed_.store(true, std::memory_order_seq_cst);
    for (std::size_t p = 1; p < workers_; ++p) {
      std::uint8_t seat = called;
      seats_[p].compare_exchange_strong(seat, vacant, std::memory_order_seq_cst);
      while (seats_[p].load(std::memory_order_seq_cst) == taken) detail::cpu_relax();
    }
  }

  // Participant p's part: claim and run blocks until none is left to claim.
  void work(std::size_t p) {
    for (std::size_t q = 0; q < workers_; ++q) {
      Share& share = shares_[(p + q) % workers_];
      for (std::size_t i; (i = share.next.fetch_add(1, std::memory_order_relaxed)) < share.end;) {
        if (!failed_.load(std::memory_order_relaxed)) {
          try {
            call_(kernel_, grid_->block(i), p);
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

  // Whether a helper may leave now: no run is being led, and the team was dismissed or has been idle
  // for its linger.
  bool may_leave() const {
    if (leading_.load(std::memory_order_seq_cst)) return false;
    if (dismissed_.load(std::memory_order_seq_cst)) return true;
    return detail::steady_ns() - idle_since_ns_.load(std::memory_order_relaxed) >= linger_ns_;
  }

  // Helper p: take the seat, join each job the leader publishes, and leave once may_leave().
  void help(std::size_t p) {
    // The leader's own thread may pick up this task while it waits in oneTBB (inside a block, or
    // between runs): it must not spin as its own helper. Give the seat back for a later call.
    if (leader() == this || scope() == this) {
      std::uint8_t seat = called;
      seats_[p].compare_exchange_strong(seat, vacant, std::memory_order_seq_cst);
      return;
    }
    std::uint8_t seat = called;
    if (!seats_[p].compare_exchange_strong(seat, taken, std::memory_order_seq_cst)) return;  // dismissed
    std::uint64_t seen = 0;
    for (unsigned spins = 0;; ++spins) {
      const std::uint64_t g = generation_.load(std::memory_order_acquire);
      if (g != seen && (g & 1) == 0) {
        active_.fetch_add(1, std::memory_order_seq_cst);
        if (generation_.load(std::memory_order_seq_cst) == g) {  // still that job: its fields are complete
          work(p);
          seen = g;
        }
        active_.fetch_sub(1, std::memory_order_release);
        continue;
      }
      if (p == 1) {
        const std::uint64_t k = ping_.load(std::memory_order_acquire);
        if (k != pong_.load(std::memory_order_relaxed)) pong_.store(k, std::memory_order_release);
      }
      if (spins % 32 == 0 && may_leave()) {
        seats_[p].store(vacant, std::memory_order_seq_cst);
        // A run may have begun between the check and the store, and its leader seen the seat taken:
        // stay for it, unless it has already called another helper to the seat.
        if (!leading_.load(std::memory_order_seq_cst) || dismissed_.load(std::memory_order_seq_cst)) return;
        seat = vacant;
        if (!seats_[p].compare_exchange_strong(seat, taken, std::memory_order_seq_cst)) return;
      }
      detail::cpu_relax();
    }
  }

  struct alignas(64) Share {
    std::atomic<std::size_t> next{0};
    std::size_t end = 0;
  };

  const std::size_t workers_;
  const std::int64_t linger_ns_;
  tbb::task_group helpers_;
  bool in_job_ = false;  // the leader's only
  alignas(64) std::atomic<std::uint64_t> generation_{0};  // odd: being written; even: published
  alignas(64) std::atomic<std::size_t> active_{0};        // helpers reading the current job
  alignas(64) std::atomic<std::size_t> done_{0};
  alignas(64) std::atomic<bool> leading_{false};
  std::atomic<bool> dismissed_{false};
  std::atomic<std::int64_t> idle_since_ns_{0};
  std::atomic<bool> held_{false};  // a thread leads or dismisses this team now
  alignas(64) std::atomic<std::uint64_t> ping_{0};  // the hand-off probe: the leader's counter,
  alignas(64) std::atomic<std::uint64_t> pong_{0};  // and helper 1's echo of it
  std::atomic<double> hand_off_ns_{0.0};
  std::int64_t probed_at_ns_ = -2'000'000'000;  // the leader's only
  std::atomic<std::uint8_t> seats_[max_workers] = {};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
  std::mutex error_mutex_;
  const BlockGrid* grid_ = nullptr;
  void* kernel_ = nullptr;
  void (*call_)(void*, const Block&, std::size_t) = nullptr;
  std::size_t count_ = 0;
  Share shares_[max_workers];
};

}  // namespace parcnn
