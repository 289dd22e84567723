// parcnn/kernels/cost.hpp — what the kernels cost on one core, in nanoseconds: the estimate a layer
// puts in its Workload (`one_core_ns`) so that strategy::Auto can weigh a fork-join against the work.
//
// Why not FLOPs or bytes alone: per value the kernels differ by fifty times. Per output value the
// letter CNN's log-softmax (scalar exp and log) takes 2.9 ns, GELU 0.23 ns, flatten (a copy) 0.03 ns,
// and a max pool about 4 ns per output row whatever its width; a fork-join on two cores costs about
// 1.2 µs. So a layer of 2 µs is not worth cutting and one of 4 µs is, and only a per-kernel rate says
// which is which.
//
// The rates are those of one core of the reference machine (AMD Zen 5 at about 4 GHz, AVX-512;
// bench/layers_bench, strategy sequential, 1 thread, float32) and scale with the lanes a vector holds
// (double: half as many). They need to be right only to tens of percent: they decide whether a layer
// of a few microseconds is worth cutting, not what it will take.
#pragma once

#include <cstddef>

namespace parcnn::kernels::cost {

// Register-tiled GEMM (a convolution's im2col GEMM, a Linear layer) on operands in cache: conv2 of the
// letter CNN at batch 1 runs 189 GFLOP/s, the 3×3 128@28² convolution 231 (im2col included).
inline constexpr double gemm_flop_per_ns = 190;
// A small Linear layer's GEMM (few rows per weight panel): fc3 at batch 16 and 64, 143 and 148 GFLOP/s.
inline constexpr double small_gemm_flop_per_ns = 140;
// A kernel bound by the bytes it streams from L2 or L3: fc1 and fc2 at batch 1 (256 and 512 KiB of
// weights) read 133 bytes per ns.
inline constexpr double stream_bytes_per_ns = 130;
// A plain copy in cache: flatten at batch 256 copies 128 KiB in 1.03 µs (in and out: 250 bytes per ns).
inline constexpr double copy_bytes_per_ns = 250;
// The direct convolution for small patches (kernels/conv2d_direct.hpp), per vector multiply-add, its
// staging, bias, pool and stores included: conv1 of the letter CNN at batch 64, 0.24 ns with or without
// its pool (GELU apart), where the FMA units alone would take 0.125.
inline constexpr double direct_conv_ns_per_vector_fma = 0.24;
// im2col row by row, per row segment copied (one kernel row of one output row) and per value: short
// rows cost by the segment (before the short-row path below, conv3 of the letter CNN with its pool at
// batch 64, 2 values a segment, ran its multiply-adds at 95 GFLOP/s; conv2, 10 values a segment, at 181).
inline constexpr double im2col_ns_per_segment = 1.2;
inline constexpr double im2col_ns_per_value = 0.05;
// im2col's short-row path (rows of at most 16 values, a whole vector at a time), per vector written:
// conv2 and conv3 of the letter CNN with their pools at batch 64, 1.4 and 1.8 ns (the columns of a
// stack of images live in L2).
inline constexpr double im2col_ns_per_short_vector = 1.5;
// GELU per value, vectorised in chunks (the letter CNN's GELU layers at batch 256: 0.23 ns).
inline constexpr double gelu_ns_per_value = 0.23;
// Log-softmax per value: scalar exp per value, a log per row (26 classes at batch 256: 19.4 µs for
// 6,656 values).
inline constexpr double log_softmax_ns_per_value = 2.9;
// Max pooling: per output row (pool1, pool2, pool3 of the letter CNN at batch 64: 4.1, 3.6 and 5.3 ns
// per pooled row of 13, 5 and 1 values) and per window value read.
inline constexpr double max_pool_ns_per_row = 3.8;
inline constexpr double max_pool_ns_per_window_value = 0.005;
// A 2×2 pool down to a single output per map, computed without vectors: pool3 of the letter CNN at
// batch 64, 13.8 µs for 8,192 maps.
inline constexpr double max_pool_ns_per_single_window = 1.7;

// How many times slower a vectorised kernel runs on T than on float: the lanes per vector.
template <class T>
inline constexpr double lanes_factor = double(sizeof(T)) / double(sizeof(float));

// An [M × K] by [K × N] GEMM, or the time to stream `bytes` through it, whichever is longer.
template <class T>
double gemm_ns(double m, double n, double k, double bytes, double flop_per_ns = gemm_flop_per_ns) {
  const double compute = 2.0 * m * n * k / flop_per_ns * lanes_factor<T>;
  const double stream = bytes / stream_bytes_per_ns;
  return compute > stream ? compute : stream;
}

template <class T>
double im2col_ns(double segments, double values) {
  return segments * im2col_ns_per_segment + values * im2col_ns_per_value * lanes_factor<T>;
}

inline double im2col_short_rows_ns(double vectors) { return vectors * im2col_ns_per_short_vector; }

template <class T>
double gelu_ns(double values) {
  return values * gelu_ns_per_value * lanes_factor<T>;
}

inline double direct_conv_ns(double vector_fmas) { return vector_fmas * direct_conv_ns_per_vector_fma; }

inline double log_softmax_ns(double values) { return values * log_softmax_ns_per_value; }

inline double max_pool_ns(double output_rows, double window_values) {
  return output_rows * max_pool_ns_per_row + window_values * max_pool_ns_per_window_value;
}

// `maps` maps of rows × cols 2×2-pooled outputs each (a single output per map goes the scalar way).
inline double max_pool_2x2_ns(double maps, double rows, double cols) {
  if (rows == 1 && cols == 1) return maps * max_pool_ns_per_single_window;
  return max_pool_ns(maps * rows, 4 * maps * rows * cols);
}

inline double copy_ns(double bytes) { return bytes / copy_bytes_per_ns; }

}  // namespace parcnn::kernels::cost
