// parcnn/kernels/fma_peak.hpp — the multiply-add rate one core of this machine reaches, measured.
//
// Chains of fused multiply-adds on the kernels' vectors (kernels/vec.hpp), enough of them in flight to
// cover the instruction's latency on every pipe: the ceiling against which a kernel's GFLOP/s is read.
// Measured at run time, not assumed: the vector width, the pipes and the clock under load all differ
// from machine to machine.

#include <chrono>
#include <cstddef>

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

// GFLOP/s (2 per multiply-add) of `T` multiply-adds on the calling thread, the best of `tries` runs of
// about `seconds` each.
template <class T>
double fma_peak_gflops(double seconds = 0.02, int tries = 3) {
  using V = typename detail::Vec<T>::type;
  constexpr int chains = 16;  // 2 pipes × a latency of up to 8 cycles
  constexpr std::size_t lanes = std::size_t(detail::Vec<T>::lanes), per_round = 256;
  V acc[chains];
  const V a = V{} + T(0.999999), b = V{} + T(1e-7);
  for (int i = 0; i < chains; ++i) acc[i] = V{} + T(i);
  double best = 0;
  for (int t = 0; t < tries; ++t) {
    std::size_t rounds = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
      for (std::size_t r = 0; r < per_round; ++r)
        for (int i = 0; i < chains; ++i) acc[i] = acc[i] * a + b;
      ++rounds;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < seconds);
    const double flops = 2.0 * double(rounds * per_round * chains * lanes);
    if (flops / elapsed > best) best = flops / elapsed;
  }
  // The chains' results are used, so none of their work can be left out.
  T sum = T(0);
  for (int i = 0; i < chains; ++i)
    for (std::size_t l = 0; l < lanes; ++l) sum += acc[i][l];
  asm volatile("" : : "m"(sum));
  return best / 1e9;
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
