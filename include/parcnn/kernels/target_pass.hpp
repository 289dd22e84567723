// parcnn/kernels/target_pass.hpp — one pass of kernels/targets.hpp: every kernel body, in the order they
// use each other, compiled for PARCNN_TARGET; it ends the pass by undefining PARCNN_TARGET and its
// vector width. No include guard: it is included once per instruction set.
#include "parcnn/kernels/vec.hpp"
#include "parcnn/kernels/gemm.hpp"
#include "parcnn/kernels/transpose.hpp"
#include "parcnn/kernels/im2col.hpp"
#include "parcnn/kernels/maxpool2d.hpp"
#include "parcnn/kernels/avgpool2d.hpp"
#include "parcnn/kernels/batch_norm.hpp"
#include "parcnn/kernels/vec_math.hpp"
#include "parcnn/kernels/gelu.hpp"
#include "parcnn/kernels/relu.hpp"
#include "parcnn/kernels/activations.hpp"
#include "parcnn/kernels/dropout.hpp"
#include "parcnn/kernels/log_softmax.hpp"
#include "parcnn/kernels/softmax.hpp"
#include "parcnn/kernels/post_op_kernels.hpp"
#include "parcnn/kernels/epilogue.hpp"
#include "parcnn/kernels/linear.hpp"
#include "parcnn/kernels/conv2d.hpp"
#include "parcnn/kernels/conv2d_direct.hpp"
#include "parcnn/kernels/conv2d_pooled_backward.hpp"
#include "parcnn/kernels/fma_peak.hpp"
#include "parcnn/kernels/triad.hpp"

#undef PARCNN_TARGET
#undef PARCNN_TARGET_VECTOR_BYTES
#undef PARCNN_TARGET_AVX512
