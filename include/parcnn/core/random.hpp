// parcnn/core/random.hpp — seeded random fills that give the same numbers on every platform.
//
// std::uniform_real_distribution and std::normal_distribution are implementation-defined, so weights
// initialised with them would differ between standard libraries. These fills draw from std::mt19937_64
// (whose output the standard fixes) and transform the bits themselves.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

#include "parcnn/core/tensor_view.hpp"

namespace parcnn {

namespace detail {
// A double in [0, 1) from the top 53 bits of one draw.
inline double unit_uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
}  // namespace detail

// Fills `t` with values uniform in [lo, hi).
template <class T>
void fill_uniform(TensorView<T> t, double lo, double hi, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (auto& v : t) v = static_cast<std::remove_const_t<T>>(lo + (hi - lo) * detail::unit_uniform(rng));
}

// Fills `t` with normal values of the given mean and standard deviation (Box–Muller).
template <class T>
void fill_normal(TensorView<T> t, double mean, double stddev, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const double two_pi = 6.283185307179586476925286766559;
  std::size_t i = 0;
  const std::size_t n = t.size();
  while (i < n) {
    const double u1 = 1.0 - detail::unit_uniform(rng);  // (0, 1]: log is finite
    const double u2 = detail::unit_uniform(rng);
    const double r = std::sqrt(-2.0 * std::log(u1));
    t.data()[i++] = static_cast<std::remove_const_t<T>>(mean + stddev * r * std::cos(two_pi * u2));
    if (i < n) t.data()[i++] = static_cast<std::remove_const_t<T>>(mean + stddev * r * std::sin(two_pi * u2));
  }
}

}  // namespace parcnn
