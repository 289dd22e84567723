// parcnn/kernels/isa.hpp — the instruction sets parcnn's kernels are compiled for, and the one this
// process runs them with: the best the CPU has, capped by the environment variable PARCNN_ISA
// ("avx512", "avx2" or "baseline"). Chosen once, at the first kernel call, and fixed for the process:
// plans size their scratch from the chosen instruction set's vectors.
//
// Each instruction set gives the same bits under every strategy and thread count; between instruction
// sets results may differ in their last bits (vector widths change the linear layers' lane sums, and
// the baseline has no fused multiply-add).
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>

#include "parcnn/core/error.hpp"

namespace parcnn::kernels {

enum class Isa { baseline, avx2, avx512 };  // in order: each runs wherever the next one does

inline const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    case Isa::baseline: return "baseline";
  }
  return "?";
}

// The best instruction set this CPU (and its operating system) runs: AVX-512 (F, BW, DQ, VL), AVX2 with
// FMA, or the baseline (SSE2 on x86-64, the compiler's default elsewhere).
inline Isa detected_isa() {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma"))
    return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
#endif
  return Isa::baseline;
}

// `name` as an instruction set; throws ConfigError naming the choices for anything else.
inline Isa parse_isa(std::string_view name) {
  for (Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512})
    if (name == isa_name(isa)) return isa;
  throw ConfigError("unknown instruction set '" + std::string(name) + "' (PARCNN_ISA): expected avx512, avx2 or baseline");
}

namespace detail {
inline Isa choose_isa() {
  const Isa cpu = detected_isa();
  const char* cap = std::getenv("PARCNN_ISA");
  if (!cap || !*cap) return cpu;
  const Isa capped = parse_isa(cap);
  return capped < cpu ? capped : cpu;
}
}  // namespace detail

// The instruction set every kernel call of this process runs with.
inline Isa active_isa() {
  static const Isa isa = detail::choose_isa();
  return isa;
}

}  // namespace parcnn::kernels
