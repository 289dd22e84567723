// parcnn/kernels/targets.hpp — compiles every kernel once per instruction set, each copy in its own
// namespace (parcnn::kernels::avx512, avx2, baseline) with the compiler's target attribute, so that one
// binary built with default flags carries the AVX-512 and AVX2 kernels and runs the best the CPU has
// (kernels/isa.hpp chooses; kernels/dispatch.hpp calls). A build with -march flags still compiles all
// three: the flags add to each copy's target.
//
// A kernel header is a body: inside a pass (PARCNN_TARGET defined) it defines its functions in
// parcnn::kernels::PARCNN_TARGET with vectors of PARCNN_TARGET_VECTOR_BYTES; outside one it only includes
// dispatch.hpp. Everything a body includes is included here first, outside any target: a header first
// seen inside a pass would be compiled for that pass's instruction set. (A lambda in a body is not:
// GCC does not give it its function's target, so bodies use function objects where vectors pass.)
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PARCNN_X86_TARGETS 1
#else
#define PARCNN_X86_TARGETS 0
#endif

#include "parcnn/core/error.hpp"
#include "parcnn/core/random.hpp"
#include "parcnn/core/range.hpp"
#include "parcnn/core/scalar.hpp"
#include "parcnn/kernels/conv2d_geometry.hpp"
#include "parcnn/kernels/epilogue_record.hpp"
#include "parcnn/kernels/gemm_backend.hpp"
#include "parcnn/kernels/isa.hpp"
#include "parcnn/kernels/pool_windows.hpp"
#include "parcnn/kernels/post_ops.hpp"

#if PARCNN_X86_TARGETS
// AVX-512: F, BW, DQ, VL (Skylake-SP and later, Zen 4 and later), 64-byte vectors, 32 registers.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,avx,fma,bmi,bmi2,lzcnt,popcnt,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,avx,fma,bmi,bmi2,lzcnt,popcnt,f16c")
#endif
#define PARCNN_TARGET avx512
#define PARCNN_TARGET_VECTOR_BYTES 64
#define PARCNN_TARGET_AVX512 1
#include "parcnn/kernels/target_pass.hpp"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// AVX2 with FMA (Haswell and later, Zen 1 and later): 32-byte vectors, 16 registers.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,avx,fma,bmi,bmi2,lzcnt,popcnt,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,avx,fma,bmi,bmi2,lzcnt,popcnt,f16c")
#endif
#define PARCNN_TARGET avx2
#define PARCNN_TARGET_VECTOR_BYTES 32
#define PARCNN_TARGET_AVX512 0
#include "parcnn/kernels/target_pass.hpp"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif  // PARCNN_X86_TARGETS

// The baseline: whatever the compiler targets by default (SSE2 on x86-64), 16-byte vectors.
#define PARCNN_TARGET baseline
#define PARCNN_TARGET_VECTOR_BYTES 16
#define PARCNN_TARGET_AVX512 0
#include "parcnn/kernels/target_pass.hpp"
