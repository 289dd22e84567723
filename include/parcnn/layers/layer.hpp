// parcnn/layers/layer.hpp — the interface every layer implements.
//
// A layer owns its parameters and knows its shapes; it holds no activations. `forward` is const and
// re-entrant: any number of threads may call it on the same layer at once, each with its own
// Workspace (the allocating overload makes one per call).
//
// Preconditions, checked on every call (ShapeError otherwise, naming the layer, the expected and the
// actual shape): the input matches what the layer accepts; its parameters still have their shapes;
// `out` has output_shape(in.shape()) and shares no memory with `in` (no layer runs in place).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/core/gradient_chunks.hpp"
#include "parcnn/core/scalar.hpp"
#include "parcnn/core/shape.hpp"
#include "parcnn/core/tensor.hpp"
#include "parcnn/core/tensor_view.hpp"
#include "parcnn/core/workspace.hpp"
#include "parcnn/kernels/cost.hpp"
#include "parcnn/kernels/epilogue.hpp"
#include "parcnn/kernels/gemm_backend.hpp"
#include "parcnn/kernels/post_ops.hpp"
#include "parcnn/parallel/executor.hpp"
#include "parcnn/parallel/index_space.hpp"
#include "parcnn/parallel/run.hpp"
#include "parcnn/parallel/strategy.hpp"
#include "parcnn/plan/plan.hpp"

namespace parcnn {

// A parameter of a layer by name ("weight", "bias"; "conv1.weight" inside a Sequential).
template <class T>
struct NamedParameter {
  std::string name;
  Tensor<T>* tensor;
};

template <class T>
class Layer {
  PARCNN_CHECK_SCALAR(T);

 public:
  virtual ~Layer() = default;

  // "Conv2d(32->64, k=3)": how the layer names itself in messages.
  virtual std::string name() const = 0;

  // The output shape for an input shape; throws ShapeError when the layer cannot take that input.
  virtual Shape output_shape(const Shape& input) const = 0;

  // The index space and cost a strategy sees for this input shape (which must be valid).
  virtual Workload workload(const Shape& input) const = 0;

  // Parameters in a fixed order; none for parameter-free layers.
  virtual std::vector<NamedParameter<T>> parameters() { return {}; }

  // The shapes of parameters(), in the same order.
  virtual std::vector<Shape> parameter_shapes() const { return {}; }

  // The number of parameters(), without building a list (it is asked on every backward pass).
  virtual std::size_t parameter_count() const { return 0; }

  // State that is saved with the parameters but not trained (BatchNorm2d's running statistics), in a
  // fixed order; none for most layers.
  virtual std::vector<NamedParameter<T>> buffers() { return {}; }

  // Training or evaluation mode (training on construction, as PyTorch's modules). It changes
  // forward_for_backward alone: in training BatchNorm2d normalises by the batch's statistics (and
  // updates its running ones), Dropout drops; in evaluation both act as in forward, which is always
  // inference, whatever the mode.
  virtual void train(bool on) { training_ = on; }
  void eval() { train(false); }
  bool training() const { return training_; }

  // Whether forward_for_backward's output for an image depends on the rest of the batch or on the
  // image's place in it (in training, BatchNorm2d's statistics, Dropout's mask): a model with such a
  // layer trains layer by layer over the whole batch, not each chunk of images on its own.
  virtual bool couples_images() const { return false; }

  virtual std::unique_ptr<Layer> clone() const = 0;

  // Sets the parameters (and buffers) to the layer's default initialisation, drawn from `seed` — what
  // the layer starts from when built, with a seed of next_default_seed() (core/random.hpp). Conv2d and
  // Linear: PyTorch's (layers/init.hpp, torch_default). Nothing for a layer without parameters.
  virtual void reset_parameters(std::uint64_t seed) { (void)seed; }

  // The matrix product the forward pass runs on (kernels/gemm_backend.hpp): parcnn's, the same bits
  // under every cut and thread count, or Eigen's, the same bits only run after run of one plan.
  // Layers without a product ignore it; training's products are parcnn's either way.
  virtual void use_gemm(kernels::GemmBackend) {}

  // Runs the layer into `out`, using `ws` for scratch. Allocates nothing once `ws` has seen this shape.
  void forward(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>& ws) const {
    check_output(output_shape(in.shape()), out.shape());
    check_apart(in, out);
    run(in, out, strategy, ws);
  }

  // Runs the layer and returns a new output tensor.
  Tensor<T> forward(TensorView<const T> in, const Strategy& strategy = {}) const {
    Tensor<T> out(output_shape(in.shape()));
    Workspace<T> ws;
    run(in, out.view(), strategy, ws);
    return out;
  }

  // forward, leaving in `ws` what backward needs: for a composite layer (Sequential) every
  // activation, layer by layer and unfused; for any other layer the same as forward.
  void forward_for_backward(TensorView<const T> in, TensorView<T> out, const Strategy& strategy,
                            Workspace<T>& ws) const {
    check_output(output_shape(in.shape()), out.shape());
    check_apart(in, out);
    run_for_backward(in, out, strategy, ws);
  }

  // Fusion (kernels/post_ops.hpp): a stage of a plan is a layer and the post-ops it runs on its output,
  // made of the layers after it; the plan asks these once, when it is made.

  // This layer as a post-op of the layer before it, for input shape `in` (MaxPool2d 2×2 at stride 2,
  // the element-wise layers); none by default.
  virtual std::optional<kernels::PostOp> as_post_op(const Shape& in) const {
    (void)in;
    return std::nullopt;
  }

  // Whether this layer runs `post_ops` (not empty) on its output for input shape `in` (valid), in a
  // pass of kind `pass`. By default any layer runs element-wise post-ops in inference (over each block
  // of its output, after the layer: run_fused); keeping what backward_fused reads (Pass::for_backward)
  // is the layer's own.
  virtual bool accepts(const Shape& in, const kernels::PostOps& post_ops, Pass pass) const {
    (void)in;
    return pass == Pass::inference && post_ops.elementwise_from(0);
  }

  // The output shape of the layer followed by `post_ops` (which it accepts), for a valid input shape.
  Shape fused_output_shape(const Shape& in, const kernels::PostOps& post_ops) const {
    const Shape out = output_shape(in);
    if (post_ops.empty()) return out;
    try {
      return post_ops.output_shape(out);
    } catch (const ShapeError& e) {
      throw ShapeError(name() + " + " + post_ops.str() + ": " + e.what());
    }
  }

  // The workload of the layer followed by `post_ops`. By default workload(in) plus each element-wise
  // post-op over the output; a layer that runs post-ops its own way prices them itself.
  virtual Workload fused_workload(const Shape& in, const kernels::PostOps& post_ops) const {
    Workload w = workload(in);
    const double values = double(output_shape(in).numel());
    w.flops += kernels::cost::elementwise_post_ops_flops(post_ops, values);
    w.one_core_ns += kernels::cost::elementwise_post_ops_ns<T>(post_ops, values);
    return w;
  }

  // The kernel path this layer takes for input shape `in` (valid) with post-ops `post_ops`, cut by `cut`
  // over `workers` workers, and the scratch it needs: what a plan shows. A layer with a single path
  // says nothing (an empty name).
  virtual Algorithm algorithm(const Shape& in, const kernels::PostOps& post_ops, const Cut& cut,
                              std::size_t workers) const {
    (void)in, (void)post_ops, (void)cut, (void)workers;
    return {};
  }

  // Runs the layer and then `post_ops` on its output, into `out` (of fused_output_shape(in, post_ops));
  // the bits are those of the layer followed by the post-ops' layers run one by one.
  void forward_fused(TensorView<const T> in, TensorView<T> out, const kernels::PostOps& post_ops,
                     const Strategy& strategy, Workspace<T>& ws) const {
    if (post_ops.empty()) return forward(in, out, strategy, ws);
    if (!accepts(in.shape(), post_ops, Pass::inference))
      throw ConfigError(name() + ": cannot run the post-ops " + post_ops.str() + " on its output");
    check_output(fused_output_shape(in.shape(), post_ops), out.shape(), &post_ops);
    check_apart(in, out);
    run_fused(in, out, post_ops, {}, strategy, ws);
  }

  // The layer and then `post_ops` (a 2×2 max pool, then one element-wise post-op or none; or one
  // element-wise post-op) on its output, as forward_fused, for a backward_fused pass (where
  // accepts(in, post_ops, Pass::for_backward)): `out` gets the stage's output; with a pool, `positions`
  // (out.size() of them) the position in this layer's output each pool window took its value from, and
  // with an element-wise post-op after it `pooled` (out's shape) the pool's output before it (without
  // one, pooled must be empty: out holds it). Without a pool, pooled must be empty and positions may be
  // null. The bits of the layer (its forward_for_backward), MaxPool2d::forward_for_backward and the
  // element-wise layer run apart.
  void forward_fused_for_backward(TensorView<const T> in, TensorView<T> pooled, std::uint32_t* positions,
                                  TensorView<T> out, const kernels::PostOps& post_ops, const Strategy& strategy,
                                  Workspace<T>& ws) const {
    if (post_ops.empty() || !accepts(in.shape(), post_ops, Pass::for_backward))
      throw ConfigError(name() + ": cannot run the post-ops " + post_ops.str() + " on its output for backward");
    check_output(fused_output_shape(in.shape(), post_ops), out.shape(), &post_ops);
    const bool keeps = post_ops.pools() && post_ops.has_elementwise();
    if (keeps ? pooled.shape() != out.shape() : !pooled.empty())
      throw ShapeError(name() + " + " + post_ops.str() + ": the pooled values must have shape " +
                       (keeps ? out.shape().str() : std::string("[] (the output holds them)")) + ", got " +
                       pooled.shape().str());
    if (!positions && post_ops.pools())
      throw ConfigError(name() + " + " + post_ops.str() + ": forward for backward needs the positions' memory");
    check_apart(in, out);
    check_apart(in, pooled);
    check_apart(TensorView<const T>(pooled), out);
    run_fused_for_backward(in, out, post_ops, {post_ops.pools() ? positions : nullptr, keeps ? pooled.data() : nullptr},
                           strategy, ws);
  }

  // Backward of `out = forward(in)`: from grad_out = dL/dout, writes grad_in = dL/din (skipped when
  // grad_in is empty: the first layer's input needs none) and adds the parameter gradients of each
  // chunk of images into `grads` (parameters in parameters() order). A composite layer (Sequential)
  // needs the Workspace its forward ran in. Backward is cut by gradient chunks (layers with
  // parameters) or by images (the others); no value depends on the thread count.
  void backward(TensorView<const T> in, TensorView<const T> out, TensorView<const T> grad_out, TensorView<T> grad_in,
                GradientSlice<T> grads, Workspace<T>& ws) const {
    const Shape expected = output_shape(in.shape());
    if (out.shape() != expected || grad_out.shape() != expected)
      throw ShapeError(name() + ": backward expects output and output gradient of shape " + expected.str() + ", got " +
                       out.shape().str() + " and " + grad_out.shape().str());
    check_backward(in, grad_in, grads);
    run_backward(in, out, grad_out, grad_in, grads, ws);
  }

  // Backward through a stage of training: this layer and the layers after it that make up `post_ops`
  // (a 2×2 max pool, then one element-wise post-op or none; or one element-wise post-op), all run apart
  // by forward_for_backward, in one pass — where accepts(in, post_ops, Pass::for_backward) (Conv2d: its
  // output gradient is zero but at each window's maximum, and it goes through those alone; BatchNorm2d
  // and a ReLU: the ReLU's mask applied as it reads the gradient). `out` is this layer's output,
  // `pooled` the pool's (without a pool, the stage's output), grad_out the gradient of the stage's
  // output; grad_in and grads as in backward; `positions`, where each pool window took its value from
  // (MaxPool2d records them in its forward pass for backward, forward_fused_for_backward too), or null
  // to find them again from `out` — which may be empty where positions are given, or where there is no
  // pool. The values are those of the layers' own backward passes up to rounding; the bits depend on
  // neither the cut nor the thread count.
  void backward_fused(TensorView<const T> in, TensorView<const T> out, TensorView<const T> pooled,
                      TensorView<const T> grad_out, TensorView<T> grad_in, const kernels::PostOps& post_ops,
                      GradientSlice<T> grads, Workspace<T>& ws, const std::uint32_t* positions = nullptr) const {
    if (post_ops.empty() || !accepts(in.shape(), post_ops, Pass::for_backward))
      throw ConfigError(name() + ": cannot run its backward pass through the post-ops " + post_ops.str());
    const Shape expected = output_shape(in.shape()), stage = fused_output_shape(in.shape(), post_ops);
    if ((out.shape() != expected && !((positions || !post_ops.pools()) && out.empty())) || pooled.shape() != stage ||
        grad_out.shape() != stage)
      throw ShapeError(name() + " + " + post_ops.str() + ": backward expects output " + expected.str() +
                       ", pooled maps and their gradient " + stage.str() + ", got " + out.shape().str() + ", " +
                       pooled.shape().str() + " and " + grad_out.shape().str());
    check_backward(in, grad_in, grads);
    run_backward_fused(in, out, pooled, grad_out, grad_in, post_ops, grads, ws, positions);
  }

 protected:
  // The input gradient's shape (when there is one) and the gradient buffers a backward pass writes.
  void check_backward(TensorView<const T> in, TensorView<T> grad_in, const GradientSlice<T>& grads) const {
    if (!grad_in.empty() && grad_in.shape() != in.shape())
      throw ShapeError(name() + ": input gradient must have shape " + in.shape().str() + ", got " +
                       grad_in.shape().str());
    const std::size_t params = parameter_count();
    if (params > 0) {
      if (!grads.chunks || grads.first + params > grads.chunks->parameters())
        throw ShapeError(name() + ": backward needs gradient buffers for its " + std::to_string(params) + " parameters");
      if (grads.count() == 0 || grads.images(grads.count() - 1).end != in.dim(0))
        throw ShapeError(name() + ": gradient chunks are planned for another batch size than " + in.shape().str());
    }
  }

  // Shape{dims}, the output for input `in`; a ShapeError naming the layer where it would hold more than
  // Shape::max_numel elements (absurd sizes or padding).
  Shape output_of(std::initializer_list<std::size_t> dims, const Shape& in) const {
    try {
      return Shape(dims);
    } catch (const ShapeError&) {
      throw ShapeError(name() + ": the output for input " + in.str() + " would hold more than 2^60 elements");
    }
  }

  // Runs make() (which builds the layer's parameters); a ConfigError naming the layer where they
  // would hold more than Shape::max_numel elements or cannot be allocated.
  template <class F>
  void make_parameters(F&& make) {
    try {
      make();
    } catch (const ShapeError&) {
      throw ConfigError(name() + ": its parameters would hold more than 2^60 elements");
    } catch (const std::bad_alloc&) {
      throw ConfigError(name() + ": its parameters do not fit in memory");
    }
  }

  // ShapeError "<name>[ + <post-ops>]: output must have shape <expected>, got <actual>" unless they
  // agree. The message is built only then: forward must not allocate.
  void check_output(const Shape& expected, const Shape& actual, const kernels::PostOps* e = nullptr) const {
    if (actual == expected) return;
    throw ShapeError(name() + (e ? " + " + e->str() : std::string()) + ": output must have shape " + expected.str() +
                     ", got " + actual.str());
  }

  // ShapeError unless `out` and `in` share no memory: every kernel reads its input while it writes its
  // output, so an output over its own input would be silently wrong.
  void check_apart(TensorView<const T> in, TensorView<T> out) const {
    if (in.empty() || out.empty()) return;
    const auto a = reinterpret_cast<std::uintptr_t>(in.data()), b = reinterpret_cast<std::uintptr_t>(out.data());
    if (a + in.size() * sizeof(T) <= b || b + out.size() * sizeof(T) <= a) return;
    throw ShapeError(name() + ": the output " + out.shape().str() + " overlaps the input " + in.shape().str() +
                     " in memory; layers do not run in place");
  }

  // The computation, with shapes already checked.
  virtual void run(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>& ws) const = 0;

  virtual void run_for_backward(TensorView<const T> in, TensorView<T> out, const Strategy& strategy,
                                Workspace<T>& ws) const {
    run(in, out, strategy, ws);
  }

  // The layer and then `post_ops` (accepted, not empty), shapes checked; with `record` (a for_backward
  // pass) also what backward_fused reads, laid out as `out`. By default: run, then the element-wise
  // post-ops over the same blocks of the output, each index of the layer's space owning a run of
  // out.size() / items consecutive outputs (a layer's space follows its output's layout, coarser or not).
  virtual void run_fused(TensorView<const T> in, TensorView<T> out, const kernels::PostOps& post_ops,
                         kernels::EpilogueRecord<T> record, const Strategy& strategy, Workspace<T>& ws) const {
    if (record.positions || !post_ops.elementwise_from(0))
      throw ConfigError(name() + ": cannot run the post-ops " + post_ops.str() + " on its output");
    run(in, out, strategy, ws);
    const Workload work = workload(in.shape());
    const IndexSpace s = work.space;
    const std::size_t per_item = s.items() > 0 ? out.size() / s.items() : 0;
    T* y = out.data();
    if (per_item == 0 || per_item * s.items() != out.size()) return kernels::apply_elementwise_post_ops(post_ops, y, y, out.size());
    run_blocks(s, strategy.cut(work, current_workers()), [&](const Block& blk, std::size_t) {
      for_each_run(s, blk, per_item, [&](std::size_t off, std::size_t count) {
        kernels::apply_elementwise_post_ops(post_ops, y + off, y + off, count);
      });
    });
  }

  // run_fused for a forward_fused_for_backward pass (`record` as there: empty without a pool). By default
  // run_fused; a layer whose pass for backward differs from its forward (BatchNorm2d in training)
  // overrides it.
  virtual void run_fused_for_backward(TensorView<const T> in, TensorView<T> out, const kernels::PostOps& post_ops,
                                      kernels::EpilogueRecord<T> record, const Strategy& strategy,
                                      Workspace<T>& ws) const {
    run_fused(in, out, post_ops, record, strategy, ws);
  }

  virtual void run_backward(TensorView<const T> in, TensorView<const T> out, TensorView<const T> grad_out,
                            TensorView<T> grad_in, GradientSlice<T> grads, Workspace<T>& ws) const = 0;

  // backward_fused's computation (only called where accepts(in, post_ops, Pass::for_backward), shapes
  // checked).
  virtual void run_backward_fused(TensorView<const T> in, TensorView<const T> out, TensorView<const T> pooled,
                                  TensorView<const T> grad_out, TensorView<T> grad_in, const kernels::PostOps& post_ops,
                                  GradientSlice<T> grads, Workspace<T>& ws, const std::uint32_t* positions) const {
    (void)in, (void)out, (void)pooled, (void)grad_out, (void)grad_in, (void)grads, (void)ws, (void)positions;
    throw ConfigError(name() + ": cannot run its backward pass through the post-ops " + post_ops.str());
  }

 private:
  bool training_ = true;
};

}  // namespace parcnn
