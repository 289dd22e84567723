// parcnn/kernels/cost.hpp — what the kernels cost on one core, in nanoseconds: the estimate a layer
// puts in its Workload (`one_core_ns`) so that strategy::Auto can weigh a fork-join against the work.
//
// Why not FLOPs or bytes alone: per value the kernels differ fifty-fold (a log-softmax's scalar exp
// against a vectorised GELU against a copy), so only a per-kernel rate says whether a layer of a few
// microseconds is worth cutting. The rates need to be right only to tens of percent; they scale with
// the lanes a vector holds (double: half as many).
#pragma once

#include <atomic>
#include <cstddef>
#include <list>
#include <mutex>

#include "parcnn/kernels/post_ops.hpp"

namespace parcnn::kernels::cost {

// One core's rates, float32. The defaults are the reference machine's; `bench/calibrate` measures
// them where it runs and writes a machine profile (parallel/machine_profile.hpp), which
// use_machine_profile applies. The measurements behind each default: docs/strategies.md ("The
// kernels' rates").
struct Rates {
  // Register-tiled GEMM (a convolution's im2col GEMM, im2col included; a Linear layer) on operands in cache.
  double gemm_flop_per_ns = 190;
  // A small Linear layer's GEMM (few rows per weight panel).
  double small_gemm_flop_per_ns = 140;
  // A kernel bound by the bytes it streams from L2 or L3 (a Linear layer's weights at batch 1).
  double stream_bytes_per_ns = 130;
  // A plain copy in cache, bytes in and out.
  double copy_bytes_per_ns = 250;
  // The direct convolution for small patches (kernels/conv2d_direct.hpp), per vector multiply-add, its
  // staging, bias, pool and stores included.
  double direct_conv_ns_per_vector_fma = 0.24;
  // im2col row by row, per row segment copied (one kernel row of one output row) and per value.
  double im2col_ns_per_segment = 1.2;
  double im2col_ns_per_value = 0.05;
  // im2col's short-row path (rows of at most 16 values, a whole vector at a time), per vector written.
  double im2col_ns_per_short_vector = 1.5;
  // GELU per value, vectorised in chunks.
  double gelu_ns_per_value = 0.23;
  // Log-softmax per value: a scalar exp per value, a log per row.
  double log_softmax_ns_per_value = 2.9;
  // Max pooling: per output row and per window value read; a 2×2 pool down to one output per map,
  // computed without vectors, per map.
  double max_pool_ns_per_row = 3.8;
  double max_pool_ns_per_window_value = 0.005;
  double max_pool_ns_per_single_window = 1.7;
};

namespace detail {
struct RatesStore {
  Rates defaults;
  std::atomic<const Rates*> current{&defaults};
  std::mutex mutex;
  std::list<Rates> kept;  // every table applied, alive for the program (a reader may hold any)
};
inline RatesStore& rates_store() {
  static RatesStore store;
  return store;
}
}  // namespace detail

// The rates the layers' estimates use now: the defaults until use_rates.
inline const Rates& rates() { return *detail::rates_store().current.load(std::memory_order_acquire); }

// Makes `r` the rates every estimate uses from now on (parallel/machine_profile.hpp's
// use_machine_profile calls it). Safe to call while other threads plan; plans already made keep the
// choices they made.
inline void use_rates(const Rates& r) {
  detail::RatesStore& store = detail::rates_store();
  const std::lock_guard<std::mutex> lock(store.mutex);
  store.kept.push_back(r);
  store.current.store(&store.kept.back(), std::memory_order_release);
}

// How many times slower a vectorised kernel runs on T than on float: the lanes per vector.
template <class T>
inline constexpr double lanes_factor = double(sizeof(T)) / double(sizeof(float));

// An [M × K] by [K × N] GEMM, or the time to stream `bytes` through it, whichever is longer.
template <class T>
double gemm_ns(double m, double n, double k, double bytes, double flop_per_ns = rates().gemm_flop_per_ns) {
  const double compute = 2.0 * m * n * k / flop_per_ns * lanes_factor<T>;
  const double stream = bytes / rates().stream_bytes_per_ns;
  return compute > stream ? compute : stream;
}

template <class T>
double im2col_ns(double segments, double values) {
  return segments * rates().im2col_ns_per_segment + values * rates().im2col_ns_per_value * lanes_factor<T>;
}

inline double im2col_short_rows_ns(double vectors) { return vectors * rates().im2col_ns_per_short_vector; }

template <class T>
double gelu_ns(double values) {
  return values * rates().gelu_ns_per_value * lanes_factor<T>;
}

inline double direct_conv_ns(double vector_fmas) { return vector_fmas * rates().direct_conv_ns_per_vector_fma; }

inline double log_softmax_ns(double values) { return values * rates().log_softmax_ns_per_value; }

inline double max_pool_ns(double output_rows, double window_values) {
  return output_rows * rates().max_pool_ns_per_row + window_values * rates().max_pool_ns_per_window_value;
}

// `maps` maps of rows × cols 2×2-pooled outputs each (a single output per map goes the scalar way).
inline double max_pool_2x2_ns(double maps, double rows, double cols) {
  if (rows == 1 && cols == 1) return maps * rates().max_pool_ns_per_single_window;
  return max_pool_ns(maps * rows, 4 * maps * rows * cols);
}

inline double copy_ns(double bytes) { return bytes / rates().copy_bytes_per_ns; }

// ReLU: a compare per value, as fast as a copy.
template <class T>
double relu_ns(double values) {
  return copy_ns(2.0 * double(sizeof(T)) * values);
}

// An element-wise post-op over `values` values of a layer's output (kernels/post_ops.hpp), and its
// FLOP-equivalents per value (GELU: an exp or erf and a division, about 20). A pool is 0 here: it
// changes what the layer computes, so the layer prices it.
template <class T>
double post_op_ns(const PostOp& op, double values) {
  switch (op.kind) {
    case PostOp::Kind::gelu:
    case PostOp::Kind::gelu_tanh: return gelu_ns<T>(values);
    case PostOp::Kind::relu:
    case PostOp::Kind::leaky_relu: return relu_ns<T>(values);
    case PostOp::Kind::sigmoid:
    case PostOp::Kind::tanh: return gelu_ns<T>(values) * 2;  // libm, one value at a time
    case PostOp::Kind::max_pool_2x2: return 0;
  }
  return 0;
}
inline double post_op_flops(const PostOp& op) {
  switch (op.kind) {
    case PostOp::Kind::gelu:
    case PostOp::Kind::gelu_tanh:
    case PostOp::Kind::sigmoid:
    case PostOp::Kind::tanh: return 20.0;
    case PostOp::Kind::relu:
    case PostOp::Kind::leaky_relu: return 1.0;
    case PostOp::Kind::max_pool_2x2: return 0.0;
  }
  return 0.0;
}

// The element-wise post-ops of `ops` over `values` values: their time and FLOP-equivalents (a pool in
// the list is the layer's to price: it changes what the layer computes).
template <class T>
double elementwise_post_ops_ns(const PostOps& ops, double values) {
  double ns = 0;
  for (const PostOp& op : ops) ns += post_op_ns<T>(op, values);
  return ns;
}
inline double elementwise_post_ops_flops(const PostOps& ops, double values) {
  double flops = 0;
  for (const PostOp& op : ops) flops += post_op_flops(op) * values;
  return flops;
}

}  // namespace parcnn::kernels::cost
