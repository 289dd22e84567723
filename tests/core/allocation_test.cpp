// A steady-state forward pass allocates nothing: once a Workspace has seen a shape, running the whole
// letter CNN again under any strategy makes no call to operator new. Counted by replacing the global
// operator new in this test program.
#include <atomic>
#include <cstdlib>
#include <new>

#include "support/test_support.hpp"

namespace {
std::atomic<std::size_t> allocations{0};
}

void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a) {
  ++allocations;
  const std::size_t align = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace parcnn::test {
namespace {

TEST(AllocationTest, SteadyStateForwardAllocatesNothing) {
  const Sequential<float> model = models::letter_cnn<float>(26, 1);
  const Tensor<float> x = random_tensor<float>(Shape{16, 1, 28, 28}, 2, 0, 1);
  for (const Strategy& s : all_strategies())
    for (std::size_t threads : {1, 2}) {
      Threads arena(threads);
      Workspace<float> ws;
      arena.run([&] {
        for (int warm = 0; warm < 3; ++warm) model.forward(x, s, ws);  // sizes buffers, thread-local panels
        const std::size_t before = allocations.load();
        for (int i = 0; i < 5; ++i) model.forward(x, s, ws);
        EXPECT_EQ(allocations.load() - before, 0u) << s.name() << ", " << threads << " threads";
      });
    }
}

TEST(AllocationTest, TheCounterCounts) {
  const std::size_t before = allocations.load();
  Tensor<float> t(Shape{8});
  EXPECT_GT(allocations.load(), before);
}

}  // namespace
}  // namespace parcnn::test
