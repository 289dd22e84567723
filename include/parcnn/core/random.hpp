// parcnn/core/random.hpp — seeded random fills that give the same numbers on every platform.
//
// std::uniform_real_distribution and std::normal_distribution are implementation-defined, so weights
// initialised with them would differ between standard libraries. These fills draw from std::mt19937_64
// (whose output the standard fixes) and transform the bits themselves.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <random>
#include <string_view>

#include "parcnn/core/tensor_view.hpp"

namespace parcnn {

namespace detail {
// A double in [0, 1) from the top 53 bits of one draw.
inline double unit_uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// The default seeds' state (manual_seed, next_default_seed).
struct DefaultSeeds {
  std::atomic<std::uint64_t> base{0}, drawn{0};
};
inline DefaultSeeds default_seeds;
}  // namespace detail

// A seed derived from `seed` and `salt` (SplitMix64's finaliser): nearby inputs give unrelated seeds.
inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t salt) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (salt + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A seed derived from `seed` and a name ("conv1.weight"): the same whatever order names are met in.
inline std::uint64_t mix_seed(std::uint64_t seed, std::string_view name) {
  std::uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 0x100000001B3ull;
  return mix_seed(seed, h);
}

// The seeds layers initialise their parameters from when they are built (Conv2d, Linear, ...): the
// k-th layer built after manual_seed(s) draws mix_seed(s, k), as torch.manual_seed fixes PyTorch's
// modules. So a program that builds its layers in the same order gets the same weights every run;
// layers built concurrently draw distinct seeds in an unspecified order.
inline void manual_seed(std::uint64_t seed) {
  detail::default_seeds.base.store(seed);
  detail::default_seeds.drawn.store(0);
}
inline std::uint64_t next_default_seed() {
  return mix_seed(detail::default_seeds.base.load(), detail::default_seeds.drawn.fetch_add(1));
}

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
