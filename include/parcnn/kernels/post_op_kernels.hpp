// parcnn/kernels/post_op_kernels.hpp — runs post-ops (kernels/post_ops.hpp) over spans: each is the
// kernel its layer runs (gelu, relu, kernels/activations.hpp), so a post-op and its layer give the same bits.
#include <cstddef>

#include "parcnn/core/error.hpp"
#include "parcnn/kernels/post_ops.hpp"

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

// An element-wise post-op from x to y (the same memory, or apart), n values.
template <class T>
void apply_post_op(const PostOp& op, const T* x, T* y, std::size_t n) {
  switch (op.kind) {
    case PostOp::Kind::gelu: return gelu(GeluApproximation::none, x, y, n);
    case PostOp::Kind::gelu_tanh: return gelu(GeluApproximation::tanh, x, y, n);
    case PostOp::Kind::relu: return relu(x, y, n);
    case PostOp::Kind::leaky_relu: return leaky_relu(T(op.slope), x, y, n);
    case PostOp::Kind::sigmoid: return sigmoid(x, y, n);
    case PostOp::Kind::tanh: return tanh(x, y, n);
    case PostOp::Kind::max_pool_2x2: throw ConfigError("a 2x2 max pool is not element-wise");
  }
}

// Its backward pass: dx from its input x and dy.
template <class T>
void apply_post_op_backward(const PostOp& op, const T* x, const T* dy, T* dx, std::size_t n) {
  switch (op.kind) {
    case PostOp::Kind::gelu: return gelu_backward(GeluApproximation::none, x, dy, dx, n);
    case PostOp::Kind::gelu_tanh: return gelu_backward(GeluApproximation::tanh, x, dy, dx, n);
    case PostOp::Kind::relu: return relu_backward(x, dy, dx, n);
    case PostOp::Kind::leaky_relu: return leaky_relu_backward(T(op.slope), x, dy, dx, n);
    case PostOp::Kind::sigmoid: return sigmoid_backward(x, dy, dx, n);
    case PostOp::Kind::tanh: return tanh_backward(x, dy, dx, n);
    case PostOp::Kind::max_pool_2x2: throw ConfigError("a 2x2 max pool is not element-wise");
  }
}

// The element-wise post-ops of a list, in order, from x to y (the same memory, or apart) over n values;
// pools are skipped (the caller has run them).
template <class T>
void apply_elementwise_post_ops(const PostOps& ops, const T* x, T* y, std::size_t n) {
  for (const PostOp& op : ops) {
    if (!op.elementwise()) continue;
    apply_post_op(op, x, y, n);
    x = y;
  }
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
