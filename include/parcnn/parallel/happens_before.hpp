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

#ifdef PARCNN_TSAN
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

}  // namespace parcnn::detail
