// parcnn/train/backward.hpp — the backward pass of a whole model in one call, for a training loop of
// one's own:
//
//   Workspace<float> ws;
//   TensorView<const float> scores = model.forward_for_backward(x, strategy::Auto{}, ws);
//   Tensor<float> grad(scores.shape());
//   double loss = cross_entropy_loss(scores, labels, grad.view());
//   sgd.zero_grad();
//   backward(model, x, grad, params, ws);   // adds dL/dθ for this batch to params' gradients
//   sgd.step();
//
// It runs the model's backward over the activations forward_for_backward left in `ws`, in gradient
// chunks of `chunk_images` images (kept in `params`), and adds the chunks' sum, in order, to the
// gradients: the same bits with 1 or N threads.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>

#include "parcnn/core/error.hpp"
#include "parcnn/core/gradient_chunks.hpp"
#include "parcnn/core/workspace.hpp"
#include "parcnn/layers/sequential.hpp"
#include "parcnn/train/gradient_reduction.hpp"
#include "parcnn/train/parameters.hpp"

namespace parcnn {

// Adds dL/dθ for the batch `x` to every gradient in `params` (which must be `model`'s), given grad_out =
// dL/dy of the output forward_for_backward(x, ..., ws) returned: gradients accumulate across calls until
// zero_grad, as in PyTorch. ConfigError when `ws` holds no forward_for_backward of `x`, or the parameters
// belong to another model; ShapeError when grad_out's shape is not the output's.
// (T is the model's: x and grad_out may be tensors or views.)
template <class T>
void backward(Sequential<T>& model, std::common_type_t<TensorView<const T>> x,
              std::common_type_t<TensorView<const T>> grad_out, Parameters<T>& params, Workspace<T>& ws,
              std::size_t chunk_images = 16) {
  if (!params.belong_to(model))
    throw ConfigError("backward: the Parameters given belong to another model object; pass Parameters(model)");
  if (chunk_images == 0) throw ConfigError("backward: chunk_images must be at least 1");
  if (model.size() == 0) return;
  const TensorView<const T> out = model.output(ws);
  if (out.empty() || out.shape() != model.output_shape(x.shape()))
    throw ConfigError("backward: the workspace holds no output of forward_for_backward for input " + x.shape().str() +
                      "; run model.forward_for_backward(x, strategy, ws) with this workspace first");
  GradientChunks<T>& chunks = params.chunks();
  chunks.plan(model.parameter_shapes(), x.dim(0), chunk_images);
  model.backward(x, out, grad_out, TensorView<T>(), GradientSlice<T>{&chunks, 0}, ws);
  reduce_chunks(chunks, params.grads());
}

}  // namespace parcnn
