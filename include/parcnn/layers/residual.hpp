// parcnn/layers/residual.hpp — Residual: y = body(x) + shortcut(x), the block of a ResNet.
//
//   Sequential<float> body;
//   body.add("conv1", Conv2d<float>(64, 128, 3, 2, 1, false)).add("bn1", BatchNorm2d<float>(128))
//       .add("relu", ReLU<float>()).add("conv2", Conv2d<float>(128, 128, 3, 1, 1, false))
//       .add("bn2", BatchNorm2d<float>(128));
//   Sequential<float> projection;   // empty: the identity
//   projection.add("0", Conv2d<float>(64, 128, 1, 2, 0, false)).add("1", BatchNorm2d<float>(128));
//   model.add("block", Residual<float>(body, projection)).add("relu", ReLU<float>());
//
// The body and the shortcut are Sequentials, each planned and run as a model of its own (fused post-ops
// and all) in the block's workspace; their outputs must have one shape. Parameters: the body's under
// their own names, the shortcut's under "shortcut." (PyTorch's "downsample." is a name mapping away).
// Every value is the body's and the shortcut's, each the same bits under any strategy, then one add.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/core/random.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/layers/sequential.hpp"
#include "parcnn/parallel/executor.hpp"
#include "parcnn/parallel/run.hpp"

namespace parcnn {

template <class T>
class Residual final : public Layer<T> {
 public:
  // y = body(x) + shortcut(x); an empty shortcut is the identity (an empty body too).
  explicit Residual(Sequential<T> body, Sequential<T> shortcut = Sequential<T>())
      : body_(std::move(body)), shortcut_(std::move(shortcut)) {}

  std::string name() const override {
    return "Residual(" + std::to_string(body_.size()) + " layers" +
           (shortcut_.size() ? ", shortcut of " + std::to_string(shortcut_.size()) : std::string()) + ")";
  }

  Sequential<T>& body() { return body_; }
  const Sequential<T>& body() const { return body_; }
  Sequential<T>& shortcut() { return shortcut_; }
  const Sequential<T>& shortcut() const { return shortcut_; }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Residual>(*this); }

  Shape output_shape(const Shape& in) const override {
    const Shape a = branch_shape(body_, "body", in), b = branch_shape(shortcut_, "shortcut", in);
    if (a != b)
      throw ShapeError(name() + ": for input " + in.str() + " the body gives " + a.str() + " and the shortcut " + b.str() +
                       "; they must agree (a shortcut that changes channels or size needs a projection)");
    return a;
  }

  // The two branches and the add; the space is the batch (the branches are cut by their own plans).
  Workload workload(const Shape& in) const override {
    Workload w = body_.workload(in), s = shortcut_.workload(in);
    const double values = double(output_shape(in).numel());
    w.space = IndexSpace{in[0]};
    w.flops += s.flops + values;
    w.bytes += s.bytes + 3.0 * double(sizeof(T)) * values;
    w.one_core_ns = w.one_core_ns > 0 && (shortcut_.size() == 0 || s.one_core_ns > 0)
                        ? w.one_core_ns + s.one_core_ns + kernels::cost::copy_ns(3.0 * double(sizeof(T)) * values)
                        : 0;
    return w;
  }

  std::vector<NamedParameter<T>> parameters() override { return named(&Layer<T>::parameters); }
  std::vector<NamedParameter<T>> buffers() override { return named(&Layer<T>::buffers); }
  std::vector<Shape> parameter_shapes() const override {
    std::vector<Shape> all = body_.parameter_shapes();
    for (const Shape& s : shortcut_.parameter_shapes()) all.push_back(s);
    return all;
  }
  std::size_t parameter_count() const override { return body_.parameter_count() + shortcut_.parameter_count(); }

  void reset_parameters(std::uint64_t seed) override {
    body_.reset_parameters(mix_seed(seed, "body"));
    shortcut_.reset_parameters(mix_seed(seed, "shortcut"));
  }
  void use_gemm(kernels::GemmBackend backend) override {
    body_.use_gemm(backend);
    shortcut_.use_gemm(backend);
  }
  void train(bool on) override {
    Layer<T>::train(on);
    body_.train(on);
    shortcut_.train(on);
  }
  bool couples_images() const override { return body_.couples_images() || shortcut_.couples_images(); }

 protected:
  void run(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>& ws) const override {
    const Strategy inner = branch_strategy(strategy, in.shape());
    add(body_.forward(in, inner, ws.child(0)), shortcut_.forward(in, inner, ws.child(1)), out, add_cut(out.shape(), strategy));
  }

  void run_for_backward(TensorView<const T> in, TensorView<T> out, const Strategy& strategy,
                        Workspace<T>& ws) const override {
    const Strategy inner = branch_strategy(strategy, in.shape());
    add(body_.forward_for_backward(in, inner, ws.child(0)), shortcut_.forward_for_backward(in, inner, ws.child(1)), out,
        add_cut(out.shape(), strategy));
  }

  // dL/dbody = dL/dshortcut = grad_out; the input gradient is the sum of the branches'.
  void run_backward(TensorView<const T> in, TensorView<const T>, TensorView<const T> grad_out, TensorView<T> grad_in,
                    GradientSlice<T> grads, Workspace<T>& ws) const override {
    const bool inputs = !grad_in.empty();
    TensorView<T> from_shortcut = inputs && shortcut_.size() ? ws.tensor(0, in.shape()).view() : TensorView<T>();
    if (body_.size()) body_.backward(in, body_.output(ws.child(0)), grad_out, grad_in, grads, ws.child(0));
    else if (inputs) std::copy(grad_out.begin(), grad_out.end(), grad_in.begin());
    if (shortcut_.size())
      shortcut_.backward(in, shortcut_.output(ws.child(1)), grad_out, from_shortcut,
                         grads.from(body_.parameter_count()), ws.child(1));
    if (!inputs) return;
    const TensorView<const T> s = shortcut_.size() ? TensorView<const T>(from_shortcut) : grad_out;
    add(TensorView<const T>(grad_in), s, grad_in, Cut{});  // an image a block, as the element-wise layers' backward
  }

 private:
  static Shape branch_shape(const Sequential<T>& branch, const char* which, const Shape& in) {
    try {
      return branch.output_shape(in);
    } catch (const ShapeError& e) {
      throw ShapeError(std::string("Residual ") + which + ": " + e.what());
    }
  }

  // The strategy the branches plan with: a plan's cut for this block (strategy::Fixed) says only how
  // many workers the block has, so the branches choose their own cuts (Auto), or run whole on one worker
  // when the block is not cut (inside a depth-first block, say); any other strategy passes on as it is.
  Strategy branch_strategy(const Strategy& strategy, const Shape& in) const {
    if (!std::holds_alternative<strategy::Fixed>(strategy.value())) return strategy;
    const IndexSpace space{in[0]};
    if (BlockGrid(space, strategy.cut(Workload{space}, current_workers())).count() <= 1) return strategy::Serial{};
    return strategy::Auto{};
  }

  // The cut `strategy` makes of the add over the batch of an output of shape `out`.
  static Cut add_cut(const Shape& out, const Strategy& strategy) {
    Workload work{IndexSpace{out[0]}};
    work.flops = double(out.numel());
    work.bytes = 3.0 * double(sizeof(T)) * double(out.numel());
    return strategy.cut(work, current_workers());
  }

  // out = a + b, element by element, over the blocks of `cut` (a cut of the batch). `out` may be `a`.
  void add(TensorView<const T> a, TensorView<const T> b, TensorView<T> out, const Cut& cut) const {
    const std::size_t N = out.dim(0), per_image = out.size() / N;
    run_blocks(IndexSpace{N}, cut, [&](const Block& blk, std::size_t) {
      for (std::size_t i = blk.n.begin * per_image; i < blk.n.end * per_image; ++i) out.data()[i] = a.data()[i] + b.data()[i];
    });
  }

  // The body's list (parameters or buffers) under its names, then the shortcut's under "shortcut.".
  std::vector<NamedParameter<T>> named(std::vector<NamedParameter<T>> (Layer<T>::*list)()) {
    std::vector<NamedParameter<T>> all = (body_.*list)();
    for (NamedParameter<T>& p : (shortcut_.*list)()) all.push_back({"shortcut." + p.name, p.tensor});
    return all;
  }

  Sequential<T> body_, shortcut_;
};

}  // namespace parcnn
