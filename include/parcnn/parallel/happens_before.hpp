// parcnn/parallel/happens_before.hpp — tells ThreadSanitizer about an order oneTBB guarantees.
//
// A oneTBB library not built with ThreadSanitizer (Debian's) keeps its synchronisation out of TSan's
// sight: a task runs after it was spawned and a wait returns after its tasks, but TSan sees neither.
// Where parcnn hands work to oneTBB it says so: happens_before(key) on the handing thread, then
// happens_after(key) on the thread that takes the work, orders everything before the first call before
// everything after the second. Without TSan both compile to nothing.
#pragma once

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PARCNN_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define PARCNN_TSAN 1
#endif

#include <cstddef>

#ifdef PARCNN_TSAN
#include <vector>

extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace parcnn::detail {

inline void happens_before([[maybe_unused]] const void* key) {
#ifdef PARCNN_TSAN
  __tsan_release(const_cast<void*>(key));
#endif
}

inline void happens_after([[maybe_unused]] const void* key) {
#ifdef PARCNN_TSAN
  __tsan_acquire(const_cast<void*>(key));
#endif
}

// happens_after(key) when the scope ends, returned or thrown: a wait on oneTBB that rethrows a task's
// exception has still waited for every task.
struct HappensAfterOnExit {
  const void* key;
  ~HappensAfterOnExit() { happens_after(key); }
};

// happens_before(key) when the scope ends, returned or thrown: a task's last write, even one that
// throws, before the wait that joins it.
struct HappensBeforeOnExit {
  const void* key;
  ~HappensBeforeOnExit() { happens_before(key); }
};

// An arena's slot is held by one thread at a time, but not always by the same one: a worker can leave
// between two blocks of a run and another thread take its slot, and with it the slot's scratch memory.
// oneTBB orders the hand-over; SlotOrder tells TSan (enter(slot) when a block starts, leave(slot) when
// it ends), one key per slot of one run. Without TSan it holds nothing.
class SlotOrder {
 public:
  explicit SlotOrder([[maybe_unused]] std::size_t slots) {
#ifdef PARCNN_TSAN
    keys_.resize(slots);
#endif
  }
  void enter([[maybe_unused]] std::size_t slot) {
#ifdef PARCNN_TSAN
    happens_after(&keys_.at(slot));
#endif
  }
  void leave([[maybe_unused]] std::size_t slot) {
#ifdef PARCNN_TSAN
    happens_before(&keys_.at(slot));
#endif
  }

 private:
#ifdef PARCNN_TSAN
  std::vector<char> keys_;
#endif
};

}  // namespace parcnn::detail
