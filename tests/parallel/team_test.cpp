// Team: inside Team::run, run_blocks runs every block exactly once, on slots below the worker count
// that no two running blocks share, job after job; exceptions reach the leader; nested calls, calls
// from a user's own parallel loop and helpers that never start complete (under a slowed schedule, with
// a deadline); only an executor's scope's thread leads a team; a scope's team keeps its helpers between
// runs and hands oneTBB's workers back before a fork through oneTBB.
#include <parcnn/parallel/run.hpp>
#include <parcnn/parallel/team.hpp>
#include <parcnn/parallel/executor.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_group.h>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

// Runs `jobs` run_blocks calls of various cuts and checks that each covered its space exactly once.
void expect_every_block_once(std::size_t jobs) {
  for (std::size_t j = 0; j < jobs; ++j) {
    const IndexSpace space{1 + j % 5, 3 + j % 4, 2 + j % 3, 1 + j % 2};
    std::vector<std::atomic<int>> hits(space.items());
    std::vector<int> written(space.items(), 0);  // plain memory: the leader must see the helpers' writes
    std::atomic<std::size_t> max_slot{0};
    run_blocks(space, Cut{1, 1 + j % 3, 1, 1}, [&](const Block& b, std::size_t slot) {
      std::size_t seen = max_slot.load();
      while (slot > seen && !max_slot.compare_exchange_weak(seen, slot)) {
      }
      for (std::size_t n = b.n.begin; n < b.n.end; ++n)
        for (std::size_t c = b.c.begin; c < b.c.end; ++c)
          for (std::size_t h = b.h.begin; h < b.h.end; ++h)
            for (std::size_t w = b.w.begin; w < b.w.end; ++w) {
              const std::size_t i = ((n * space.c + c) * space.h + h) * space.w + w;
              ++hits[i];
              written[i] = int(j) + 1;
            }
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1) << "job " << j;
    for (int v : written) ASSERT_EQ(v, int(j) + 1) << "job " << j;
    ASSERT_LT(max_slot.load(), current_workers());
  }
}

// Runs `jobs` run_blocks calls in which every block holds its slot for a while: two blocks running
// at once on one slot (one scratch buffer for two threads) fail.
void expect_slots_never_shared(std::size_t jobs) {
  std::vector<std::atomic<bool>> busy(current_workers());
  std::atomic<int> shared{0};
  for (std::size_t j = 0; j < jobs; ++j) {
    run_blocks(IndexSpace{8}, Cut{}, [&](const Block&, std::size_t slot) {
      ASSERT_LT(slot, busy.size());
      if (busy[slot].exchange(true)) ++shared;
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(2);
      while (std::chrono::steady_clock::now() < until) {
      }
      busy[slot] = false;
    });
  }
  EXPECT_EQ(shared.load(), 0);
}

TEST(TeamTest, EveryBlockOnceJobAfterJob) {
  for (std::size_t threads : thread_counts()) {  // 3: more threads than cores, helpers share them
    Executor(threads).run([&] {
      bool led = false;
      Team::run(current_workers(), [&] {
        led = Team::publishing() != nullptr;
        expect_every_block_once(300);
      });
      EXPECT_EQ(led, threads > 1);
      EXPECT_EQ(Team::publishing(), nullptr);  // gone with the run
    });
  }
}

TEST(TeamTest, ExceptionsReachTheLeaderAndTheTeamStillStops) {
  Executor(2).run([&] {
    Team::run(2, [&] {
      for (int round = 0; round < 20; ++round) {
        EXPECT_THROW(run_blocks(IndexSpace{16}, Cut{}, [](const Block& b, std::size_t) {
                       if (b.n.begin == 11) throw std::runtime_error("block 11");
                     }),
                     std::runtime_error);
        expect_every_block_once(1);  // the team goes on after a failed job
      }
    });
    EXPECT_THROW(Team::run(2, [] { throw std::logic_error("in the leader"); }), std::logic_error);
    EXPECT_EQ(Team::publishing(), nullptr);
  });
}

// A helper that takes an outer block (slowed by 2 ms, so that it does) calls Team::run and run_blocks
// inside it: on the helper they run through oneTBB, and nobody waits for a task no thread will take.
TEST(TeamTest, NestedCallsRunThroughOneTbb) {
  finishes_within(std::chrono::seconds(120), "nested Team::run and run_blocks", [] {
    for (std::size_t threads : thread_counts())
      for (int round = 0; round < 10; ++round)
        Executor(threads).run([&] {
          Team::run(current_workers(), [&] {
            std::atomic<int> inner{0};
            run_blocks(IndexSpace{4}, Cut{}, [&](const Block&, std::size_t) {
              EXPECT_EQ(Team::publishing(), nullptr);  // inside a block: no publishing
              std::this_thread::sleep_for(std::chrono::milliseconds(2));
              run_blocks(IndexSpace{8}, Cut{}, [&](const Block&, std::size_t) { ++inner; });
              Team::run(2, [&] {  // a team inside a team is just the call
                EXPECT_EQ(Team::publishing(), nullptr);
                run_blocks(IndexSpace{3}, Cut{}, [&](const Block&, std::size_t) { ++inner; });
              });
            });
            EXPECT_EQ(inner.load(), 4 * 11);
          });
        });
  });
}

// Only the thread of an executor's scope leads a team: outside one (oneTBB's implicit arena, a plain arena
// of the user's) and on the scope's other threads Team::run just calls f.
TEST(TeamTest, OnlyAnExecutorsThreadLeadsATeam) {
  auto expect_no_team = [] {
    EXPECT_FALSE(Team::can_lead(2));
    Team::run(2, [] { EXPECT_EQ(Team::publishing(), nullptr); });
    expect_every_block_once(20);
  };
  expect_no_team();
  tbb::task_arena plain(2);
  plain.execute(expect_no_team);
  Executor(2).run([&] {
    EXPECT_TRUE(Team::can_lead(2));
    EXPECT_FALSE(Team::can_lead(3));  // the scope's team has 2 workers
    Team::run(2, [] { EXPECT_FALSE(Team::can_lead(2)); });  // it leads one already
    users_parallel_for(8, [&](int) {
      if (!Team::can_lead(2)) Team::run(2, [] { EXPECT_EQ(Team::publishing(), nullptr); });
    });
  });
}

// A user's own oneTBB loop whose iterations each run a team's worth of cuts (Team::run around nested
// run_blocks), with and without an executor's scope, iterations slowed at random: every call completes
// and covers its blocks once.
TEST(TeamTest, CallsFromAUsersParallelLoopComplete) {
  auto loop = [] {
    users_parallel_for(64, [](int i) {
      if (i % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(100 * (i % 7)));
      Team::run(current_workers(), [&] {
        expect_every_block_once(3);
        run_blocks(IndexSpace{3}, Cut{}, [](const Block&, std::size_t) { expect_every_block_once(1); });
      });
    });
  };
  finishes_within(std::chrono::seconds(120), "a user's parallel_for over Team::run", [&] {
    for (int round = 0; round < 5; ++round) {
      loop();
      for (std::size_t threads : thread_counts()) Executor(threads).run(loop);
    }
  });
}

// Keeps the arena's other worker busy for its lifetime, so that a helper task cannot start there.
class BusyWorker {
 public:
  BusyWorker() {
    detail::happens_before(this);  // oneTBB runs the task after this (told to ThreadSanitizer)
    task_.run([this] {
      detail::happens_after(this);
      started_ = true;
      while (!release_) std::this_thread::yield();
    });
    while (!started_) std::this_thread::yield();
  }
  ~BusyWorker() {
    release_ = true;
    task_.wait();
  }

 private:
  std::atomic<bool> started_{false}, release_{false};
  tbb::task_group task_;
};

TEST(TeamTest, TheLeaderFinishesAloneWhenNoHelperStarts) {
  Executor(2).run([&] {
    const BusyWorker busy;
    Team::run(2, [&] { expect_every_block_once(50); });
  });
}

TEST(TeamTest, NoTwoRunningBlocksShareASlot) {
  for (std::size_t threads : thread_counts()) {
    Executor(threads).run([&] { Team::run(current_workers(), [&] { expect_slots_never_shared(200); }); });
  }
}

// An executor's scope keeps its team: runs in quick succession, runs with a pause longer than the linger
// between them, and forks through oneTBB in between (which send the lingering helpers back) all run
// every block once on unshared slots, and the scope closes with helpers still lingering.
TEST(TeamTest, AKeptTeamServesRunAfterRunAndGivesWayToOneTbb) {
  for (std::size_t threads : thread_counts()) {
    Executor arena(threads, std::chrono::microseconds(200));
    for (int round = 0; round < 30; ++round) {
      arena.run([&] {
        Team::run(current_workers(), [&] {
          expect_every_block_once(5);
          expect_slots_never_shared(3);
        });
        if (round % 3 == 1) expect_every_block_once(3);  // outside the team: through oneTBB
        if (round % 5 == 2) std::this_thread::sleep_for(std::chrono::microseconds(300));
      });
    }
  }
}

// An executor's scope's team measures the hand-off to its helper once one is there; nothing else does.
TEST(TeamTest, AKeptTeamMeasuresTheHandOff) {
  if (hardware_threads() < 2) GTEST_SKIP() << "one core: no helper to measure against";
  EXPECT_EQ(Team::measured_hand_off_ns(), 0.0);
  bool measured = false;
  Executor(2).run([&] {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (Team::measured_hand_off_ns() == 0.0 && std::chrono::steady_clock::now() < until)
      Team::run(2, [&] { expect_every_block_once(1); });
    const double h = Team::measured_hand_off_ns();
    measured = h > 0.0;
    if (measured) {
      EXPECT_LT(h, 100e3);  // the probe gives up after 100 µs without an answer
    }
  });
  EXPECT_EQ(Team::measured_hand_off_ns(), 0.0);  // gone with the scope
  // A loaded machine (a sanitizer, other builds) may keep the helper from answering within 100 µs.
  if (!measured) GTEST_SKIP() << "the helper never answered the probe within 5 s on this machine";
}

// The other worker is busy, so the helper task waits in the arena's queue; the leader, waiting in
// oneTBB inside its run for a task queued after it, may take the helper task first. It must not stay
// in it as a helper waiting for its own run to end; with and without a linger. In a plain arena no
// team forms, and the queued tasks run as usual.
void expect_the_leader_never_helps_itself() {
  for (int round = 0; round < 50; ++round) {
    const BusyWorker busy;
    std::atomic<int> ran{0};
    Team::run(2, [&] {
      tbb::task_group queued;
      for (int t = 0; t < 4; ++t) tbb::this_task_arena::enqueue(queued.defer([&] { ++ran; }));
      queued.wait();
      expect_every_block_once(2);
    });
    EXPECT_EQ(ran.load(), 4);
  }
}

TEST(TeamTest, TheLeaderNeverHelpsItself) {
  for (auto linger : {std::chrono::microseconds(0), std::chrono::microseconds(1000)})
    Executor(2, linger).run(expect_the_leader_never_helps_itself);
  tbb::task_arena plain(2);
  plain.execute(expect_the_leader_never_helps_itself);
}

}  // namespace
}  // namespace parcnn::test
