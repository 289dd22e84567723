// parcnn/kernels/dispatch.hpp — the kernels' entry points: each calls the copy of its kernel compiled for
// the instruction set this process runs (kernels/isa.hpp, kernels/targets.hpp). `kernels::gemm(…)` and
// `kernels::gemm_scratch<T>(…)` take the arguments and template argument of the kernel itself.
//
// The entry points are objects, not functions: inside a body, an unqualified call (`gemm(…)`) must find
// that body's own copy, and argument-dependent lookup finds functions only, never these.
#pragma once

#include <cstddef>
#include <utility>

#include "parcnn/kernels/isa.hpp"
#include "parcnn/kernels/targets.hpp"

#if PARCNN_X86_TARGETS
#define PARCNN_CALL_ACTIVE_TARGET(call)          \
  switch (::parcnn::kernels::active_isa()) {     \
    case ::parcnn::kernels::Isa::avx512:         \
      return ::parcnn::kernels::avx512::call;    \
    case ::parcnn::kernels::Isa::avx2:           \
      return ::parcnn::kernels::avx2::call;      \
    case ::parcnn::kernels::Isa::baseline:       \
      break;                                     \
  }                                              \
  return ::parcnn::kernels::baseline::call;
#else
#define PARCNN_CALL_ACTIVE_TARGET(call) return ::parcnn::kernels::baseline::call;
#endif

// `name(args…)` of the active target. Only what layers, tests and programs call has an entry point;
// kernels used only by other kernels are reached inside the bodies.
#define PARCNN_KERNEL_ENTRY(name)                                 \
  namespace entry {                                               \
  struct name {                                                   \
    template <class... A>                                         \
    decltype(auto) operator()(A&&... a) const {                   \
      PARCNN_CALL_ACTIVE_TARGET(name(std::forward<A>(a)...))      \
    }                                                             \
  };                                                              \
  }                                                               \
  inline constexpr entry::name name{};

// `name<T>(args…)` of the active target.
#define PARCNN_KERNEL_ENTRY_T(name)                               \
  namespace entry {                                               \
  template <class T>                                              \
  struct name {                                                   \
    template <class... A>                                         \
    decltype(auto) operator()(A&&... a) const {                   \
      PARCNN_CALL_ACTIVE_TARGET(name<T>(std::forward<A>(a)...))   \
    }                                                             \
  };                                                              \
  }                                                               \
  template <class T>                                              \
  inline constexpr entry::name<T> name{};

namespace parcnn::kernels {

// gemm.hpp
PARCNN_KERNEL_ENTRY(gemm)
PARCNN_KERNEL_ENTRY(gemm_strided)
PARCNN_KERNEL_ENTRY_T(gemm_whole_vectors)
PARCNN_KERNEL_ENTRY_T(gemm_scratch)
// transpose.hpp
PARCNN_KERNEL_ENTRY(transpose)
// im2col.hpp
PARCNN_KERNEL_ENTRY(im2col)
PARCNN_KERNEL_ENTRY(col2im)
PARCNN_KERNEL_ENTRY_T(im2col_short_row_vectors)
// maxpool2d.hpp
PARCNN_KERNEL_ENTRY(is_pool_2x2)
PARCNN_KERNEL_ENTRY(maxpool2x2_positions)
PARCNN_KERNEL_ENTRY(maxpool2d_forward)
PARCNN_KERNEL_ENTRY(maxpool2d_backward)
PARCNN_KERNEL_ENTRY(maxpool2d_forward_reference)
PARCNN_KERNEL_ENTRY(maxpool2d_backward_reference)
// avgpool2d.hpp
PARCNN_KERNEL_ENTRY(avgpool2d_forward)
PARCNN_KERNEL_ENTRY(avgpool2d_backward)
// batch_norm.hpp
PARCNN_KERNEL_ENTRY(batch_norm_moments)
PARCNN_KERNEL_ENTRY(batch_norm_apply)
PARCNN_KERNEL_ENTRY(batch_norm_sums)
PARCNN_KERNEL_ENTRY(batch_norm_input_gradient)
// gelu.hpp, relu.hpp, log_softmax.hpp, softmax.hpp
PARCNN_KERNEL_ENTRY(gelu)
PARCNN_KERNEL_ENTRY(gelu_backward)
PARCNN_KERNEL_ENTRY(gelu_reference)
PARCNN_KERNEL_ENTRY(relu)
PARCNN_KERNEL_ENTRY(relu_backward)
PARCNN_KERNEL_ENTRY(log_softmax_rows)
PARCNN_KERNEL_ENTRY(log_softmax_backward_rows)
PARCNN_KERNEL_ENTRY(log_softmax_reference)
PARCNN_KERNEL_ENTRY(softmax_rows)
PARCNN_KERNEL_ENTRY(softmax_backward_rows)
// dropout.hpp
PARCNN_KERNEL_ENTRY(dropout)
PARCNN_KERNEL_ENTRY(dropout_backward)
// post_op_kernels.hpp
PARCNN_KERNEL_ENTRY(apply_post_op)
PARCNN_KERNEL_ENTRY(apply_post_op_backward)
PARCNN_KERNEL_ENTRY(apply_elementwise_post_ops)
// linear.hpp
PARCNN_KERNEL_ENTRY(linear_forward)
PARCNN_KERNEL_ENTRY(linear_backward)
PARCNN_KERNEL_ENTRY(linear_forward_reference)
// conv2d.hpp
PARCNN_KERNEL_ENTRY_T(conv2d_im2col_scratch)
PARCNN_KERNEL_ENTRY(conv2d_forward_im2col)
PARCNN_KERNEL_ENTRY(conv2d_forward_columns)
PARCNN_KERNEL_ENTRY(conv2d_shifted_fits)
PARCNN_KERNEL_ENTRY_T(conv2d_shifted_scratch)
PARCNN_KERNEL_ENTRY(conv2d_forward_shifted)
PARCNN_KERNEL_ENTRY(epilogue_out_h)
PARCNN_KERNEL_ENTRY(epilogue_out_w)
PARCNN_KERNEL_ENTRY_T(conv2d_epilogue_scratch)
PARCNN_KERNEL_ENTRY(conv2d_forward_epilogue)
PARCNN_KERNEL_ENTRY_T(epilogue_columns_stride)
PARCNN_KERNEL_ENTRY(im2col_for_epilogue)
PARCNN_KERNEL_ENTRY(conv2d_forward_epilogue_columns)
PARCNN_KERNEL_ENTRY_T(conv2d_backward_scratch)
PARCNN_KERNEL_ENTRY(conv2d_backward)
PARCNN_KERNEL_ENTRY_T(conv2d_weight_gradient_shifted_scratch)
PARCNN_KERNEL_ENTRY(conv2d_weight_gradient_shifted)
PARCNN_KERNEL_ENTRY_T(conv2d_grouped_scratch)
PARCNN_KERNEL_ENTRY(conv2d_forward_grouped)
PARCNN_KERNEL_ENTRY(conv2d_backward_grouped)
PARCNN_KERNEL_ENTRY(conv2d_forward_reference)
// conv2d_direct.hpp
PARCNN_KERNEL_ENTRY(conv2d_direct_fits)
PARCNN_KERNEL_ENTRY_T(conv2d_direct_vector_fmas)
PARCNN_KERNEL_ENTRY_T(conv2d_direct_scratch)
PARCNN_KERNEL_ENTRY(conv2d_forward_direct)
// conv2d_pooled_backward.hpp
PARCNN_KERNEL_ENTRY_T(conv2d_weight_channels_last_size)
PARCNN_KERNEL_ENTRY(conv2d_weight_channels_last)
PARCNN_KERNEL_ENTRY_T(conv2d_pooled_backward_scratch)
PARCNN_KERNEL_ENTRY_T(conv2d_pooled_backward_fits)
PARCNN_KERNEL_ENTRY(conv2d_pooled_weight_gradient_add)
PARCNN_KERNEL_ENTRY(conv2d_pooled_backward)
// fma_peak.hpp
PARCNN_KERNEL_ENTRY_T(fma_peak_gflops)
// triad.hpp
PARCNN_KERNEL_ENTRY(triad)

// The rows (and features) of the linear forward's register tile: the same in every instruction set.
inline constexpr std::size_t linear_tile_rows = baseline::linear_tile_rows;

}  // namespace parcnn::kernels

#undef PARCNN_KERNEL_ENTRY
#undef PARCNN_KERNEL_ENTRY_T
#undef PARCNN_CALL_ACTIVE_TARGET
