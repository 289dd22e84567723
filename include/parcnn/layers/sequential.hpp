// parcnn/layers/sequential.hpp — Sequential: named layers run one after another.
//
// The container: it holds the layers and runs a Plan (parcnn/plan/), which decides everything else —
// the stages (a convolution with the pool and GELU it runs on its output), depth-first blocks or layer
// by layer, the team, each stage's cut. `forward(x, plan, ws)` executes a plan made once
// (`model.plan(shape, strategy)`); `forward(x, strategy, ws)` makes one on its first call and keeps it
// in `ws` for the calls after. Shapes are inferred for every layer before anything runs, so a
// mis-shaped input fails at once with the name and position of the layer that cannot take it.
// Intermediate activations live in the caller's Workspace: forward returns a view of the last one and,
// once `ws` has seen the input shape, allocates nothing. `backward` walks the plan's backward stages in
// reverse over the activations the forward pass left in the same Workspace.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/core/random.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/parallel/run.hpp"
#include "parcnn/parallel/strategy.hpp"
#include "parcnn/parallel/team.hpp"
#include "parcnn/parallel/executor.hpp"
#include "parcnn/plan/make_plan.hpp"
#include "parcnn/plan/plan.hpp"

namespace parcnn {

template <class T>
class Sequential final : public Layer<T> {
 public:
  Sequential() = default;
  Sequential(const Sequential& other) : Layer<T>(other), fuse_(other.fuse_), gemm_(other.gemm_) {
    for (const auto& [name, layer] : other.layers_) layers_.emplace_back(name, layer->clone());
  }
  Sequential(Sequential&&) noexcept = default;
  Sequential& operator=(Sequential other) noexcept {
    Layer<T>::operator=(other);  // the mode
    layers_.swap(other.layers_);
    fuse_ = other.fuse_;
    gemm_ = other.gemm_;
    ++revision_;
    return *this;
  }

  // Appends a layer under a name (names its parameters: "conv1" gives "conv1.weight").
  template <class L>
  Sequential& add(std::string name, L layer) {
    static_assert(std::is_base_of_v<Layer<T>, L>, "Sequential<T>::add takes a layer of the same scalar type T");
    return add(std::move(name), std::unique_ptr<Layer<T>>(std::make_unique<L>(std::move(layer))));
  }
  Sequential& add(std::string name, std::unique_ptr<Layer<T>> layer) {
    for (const auto& entry : layers_)
      if (entry.first == name) throw ConfigError("Sequential: a layer named '" + name + "' already exists");
    layer->use_gemm(gemm_);
    layers_.emplace_back(std::move(name), std::move(layer));
    ++revision_;
    return *this;
  }

  // Whether plans fuse post-ops (on by default; kernels/post_ops.hpp). In forward a layer runs the
  // layers after it that it accepts as post-ops on its output (Conv2d: a 2×2 max pool and element-wise
  // layers, on its output tile; Linear and the others: element-wise layers): the same bits either way.
  // Backward runs such a layer's backward pass through a pool and an element-wise layer after it in one
  // (Layer::backward_fused): the same values up to rounding, the same bits on every cut and thread
  // count; and forward_for_backward fuses them where the layer can keep what that backward reads
  // instead of its own output (Layer::accepts, Pass::for_backward): the same bits. Off, every layer runs
  // on its own (to time them apart, say).
  Sequential& fuse_post_ops(bool on) {
    fuse_ = on;
    ++revision_;
    return *this;
  }
  bool fuses_post_ops() const { return fuse_; }

  // The matrix product of every layer's forward, now and added later (Layer::use_gemm,
  // kernels/gemm_backend.hpp): parcnn's by default; Eigen's gives the same bits only run after run of
  // one plan, not across strategies or thread counts.
  void use_gemm(kernels::GemmBackend backend) override {
    gemm_ = backend;
    for (auto& entry : layers_) entry.second->use_gemm(backend);
    ++revision_;
  }
  kernels::GemmBackend gemm() const { return gemm_; }

  std::size_t size() const { return layers_.size(); }
  Layer<T>& operator[](std::size_t i) { return *layers_.at(i).second; }
  const Layer<T>& operator[](std::size_t i) const { return *layers_.at(i).second; }
  const std::string& layer_name(std::size_t i) const { return layers_.at(i).first; }

  // The layer called `name` as type L; throws std::out_of_range for an unknown name or another type.
  template <class L = Layer<T>>
  L& get(const std::string& name) {
    for (auto& [n, layer] : layers_)
      if (n == name) {
        if (auto* p = dynamic_cast<L*>(layer.get())) return *p;
        throw std::out_of_range("Sequential: layer '" + name + "' is a " + layer->name() + ", not the type asked for");
      }
    throw std::out_of_range("Sequential: no layer named '" + name + "'");
  }

  // Layers [first, next) as a model of their own: copies under the same names, with the same mode,
  // fusion and matrix product. Run one after another, slices give the bits of the whole.
  Sequential slice(std::size_t first, std::size_t next) const {
    if (first >= next || next > layers_.size())
      throw ConfigError("Sequential::slice: layers [" + std::to_string(first) + ", " + std::to_string(next) +
                        ") of a model of " + std::to_string(layers_.size()));
    Sequential out;
    out.fuse_post_ops(fuse_);
    out.use_gemm(gemm_);
    for (std::size_t i = first; i < next; ++i) out.add(layers_[i].first, layers_[i].second->clone());
    out.Layer<T>::train(this->training());  // its own mode; each layer keeps the one it was copied with
    return out;
  }

  std::string name() const override { return "Sequential(" + std::to_string(layers_.size()) + " layers)"; }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Sequential>(*this); }

  // The output shape of every layer, in order. Throws ShapeError naming the first layer that fails.
  std::vector<Shape> shapes(const Shape& in) const {
    std::vector<Shape> out;
    Shape s = in;
    for (std::size_t i = 0; i < layers_.size(); ++i) out.push_back(s = layer_output_shape(i, s));
    return out;
  }

  Shape output_shape(const Shape& in) const override {
    Shape s = in;
    for (std::size_t i = 0; i < layers_.size(); ++i) s = layer_output_shape(i, s);
    return s;
  }

  // Totals over the layers, unfused; the space is the batch (a model as a whole is cut by its layers).
  // The one-core estimate only when every layer gives one.
  Workload workload(const Shape& in) const override {
    Workload total;
    total.space = IndexSpace{in.rank() ? in[0] : 1};
    bool every_estimate = true;
    Shape s = in;
    for (const auto& entry : layers_) {
      const Workload w = entry.second->workload(s);
      total.flops += w.flops;
      total.bytes += w.bytes;
      total.one_core_ns += w.one_core_ns;
      every_estimate = every_estimate && w.one_core_ns > 0;
      s = entry.second->output_shape(s);
    }
    if (!every_estimate) total.one_core_ns = 0;
    return total;
  }

  std::size_t parameter_count() const override {
    std::size_t n = 0;
    for (const auto& entry : layers_) n += entry.second->parameter_count();
    return n;
  }

  std::vector<Shape> parameter_shapes() const override {
    std::vector<Shape> all;
    for (const auto& entry : layers_)
      for (const Shape& s : entry.second->parameter_shapes()) all.push_back(s);
    return all;
  }

  std::vector<NamedParameter<T>> parameters() override {
    std::vector<NamedParameter<T>> all;
    for (auto& [prefix, layer] : layers_)
      for (auto p : layer->parameters()) all.push_back({prefix + "." + p.name, p.tensor});
    return all;
  }

  std::vector<NamedParameter<T>> buffers() override {
    std::vector<NamedParameter<T>> all;
    for (auto& [prefix, layer] : layers_)
      for (auto p : layer->buffers()) all.push_back({prefix + "." + p.name, p.tensor});
    return all;
  }

  // Every layer's mode, now (layers added later keep their own).
  void train(bool on) override {
    Layer<T>::train(on);
    for (auto& entry : layers_) entry.second->train(on);
  }

  bool couples_images() const override {
    for (const auto& entry : layers_)
      if (entry.second->couples_images()) return true;
    return false;
  }

  // Each layer's default initialisation from mix_seed(seed, its name): one seed makes the whole model's
  // parameters, the same whatever layers are added after.
  void reset_parameters(std::uint64_t seed) override {
    for (auto& [name, layer] : layers_) layer->reset_parameters(mix_seed(seed, name));
  }


  // The plan of `pass` on input shape `in` under `strategy`, for an executor of `profile` (the calling
  // scope's by default): see plan/make_plan.hpp. Throws ShapeError naming the first layer that cannot
  // take its input.
  Plan plan(const Shape& in, const Strategy& strategy = Strategy(), Pass pass = Pass::inference,
            const ExecutorProfile& profile = ExecutorProfile::current()) const {
    return planner::make_plan(*this, in, strategy, pass, profile);
  }

  // The plan for running on `executor` (its workers, team and measured hand-off).
  Plan plan(const Shape& in, const Strategy& strategy, Executor& executor, Pass pass = Pass::inference) const {
    return plan(in, strategy, pass, executor.profile());
  }

  using Layer<T>::forward;

  // forward(in, plan, ws) on `executor`'s workers.
  TensorView<const T> forward(TensorView<const T> in, const Plan& plan, Workspace<T>& ws, Executor& executor) const {
    return executor.run([&] { return forward(in, plan, ws); });
  }

  // Runs every layer as `plan` says; returns a view of the output, which lives in `ws` until its next
  // use. The plan must be an inference plan of this model for this input shape, made for as many
  // workers as the calling scope has (ConfigError or ShapeError otherwise). Every plan of a model gives
  // the same bits. To call backward afterwards, run forward_for_backward instead.
  TensorView<const T> forward(TensorView<const T> in, const Plan& plan, Workspace<T>& ws) const {
    check_plan(plan, in.shape(), Pass::inference);
    return run_plan(in, plan, ws);
  }

  // forward under `strategy`: the plan for this input, strategy and calling scope, made on the first
  // call and kept in `ws` for the next ones (a call with another shape, strategy or scope makes a new
  // one).
  TensorView<const T> forward(TensorView<const T> in, const Strategy& strategy, Workspace<T>& ws) const {
    if (layers_.empty()) return in;
    return run_plan(in, cached_plan(in.shape(), strategy, Pass::inference, ws), ws);
  }

  using Layer<T>::forward_for_backward;

  // forward keeping in `ws` what backward reads, as `plan` (a Pass::for_backward plan of this model
  // for this input) says: layer by layer, each stage cut as planned.
  TensorView<const T> forward_for_backward(TensorView<const T> in, const Plan& plan, Workspace<T>& ws) const {
    check_plan(plan, in.shape(), Pass::for_backward);
    return run_plan(in, plan, ws);
  }

  // forward_for_backward under `strategy`, its plan kept in `ws` as forward's.
  TensorView<const T> forward_for_backward(TensorView<const T> in, const Strategy& strategy, Workspace<T>& ws) const {
    if (layers_.empty()) return in;
    return run_plan(in, cached_plan(in.shape(), strategy, Pass::for_backward, ws), ws);
  }

  // The output the last forward or forward_for_backward returning a view left in `ws` (empty when none
  // has; the model must have layers).
  TensorView<const T> output(Workspace<T>& ws) const {
    const std::size_t last = layers_.size() - 1;
    return ws.has_tensor(last) ? TensorView<const T>(ws.tensor(last).view()) : TensorView<const T>();
  }

 protected:
  void run(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>& ws) const override {
    if (layers_.empty()) {
      std::copy(in.begin(), in.end(), out.begin());
      return;
    }
    execute(in, out, cached_plan(in.shape(), strategy, Pass::inference, ws), ws);
  }

  void run_for_backward(TensorView<const T> in, TensorView<T> out, const Strategy& strategy,
                        Workspace<T>& ws) const override {
    if (layers_.empty()) {
      std::copy(in.begin(), in.end(), out.begin());
      return;
    }
    execute(in, out, cached_plan(in.shape(), strategy, Pass::for_backward, ws), ws);
  }

  // Needs the Workspace in which the forward pass that produced `out` ran: it holds the activations
  // (each layer's backward checks their shapes). Allocates nothing once `ws` has seen the shape.
  void run_backward(TensorView<const T> in, TensorView<const T> out, TensorView<const T> grad_out, TensorView<T> grad_in,
                    GradientSlice<T> grads, Workspace<T>& ws) const override {
    const std::size_t L = layers_.size();
    if (L == 0) {
      if (!grad_in.empty()) std::copy(grad_out.begin(), grad_out.end(), grad_in.begin());
      return;
    }
    Shape s = in.shape();  // the activations must be those of forward_for_backward on this input
    for (std::size_t i = 0; i + 1 < L; ++i) {
      s = layers_[i].second->output_shape(s);
      // A layer whose forward_for_backward ran fused keeps no output, but the pool after it its positions,
      // or the element-wise layer after it its output.
      const Shape next = layers_[i + 1].second->output_shape(s);
      const auto op = layers_[i + 1].second->as_post_op(s);
      const bool pooled = ws.child(i + 1).index_count() == next.numel();
      const bool elementwise = op && op->elementwise() &&
                               (i + 2 == L || (ws.has_tensor(i + 1) && ws.tensor(i + 1).shape() == next));
      const bool fused = ws.has_tensor(i) && ws.tensor(i).shape() == Shape{0} && (pooled || elementwise);
      if (!fused && (!ws.has_tensor(i) || ws.tensor(i).shape() != s))
        throw ConfigError("Sequential::backward: the workspace holds no activations of layer " + std::to_string(i) +
                          " '" + layers_[i].first + "' for input " + in.shape().str() +
                          "; run forward_for_backward with this workspace first");
    }
    PlanCache& cache = ws.template state<PlanCache>();
    if (!cache.backward_for(*this, in.shape()))  // the forward ran elsewhere: plan the backward stages here
      cache.keep_backward(*this, plan(in.shape(), strategy::Serial{}, Pass::for_backward, ExecutorProfile()));
    Team::run(current_workers(), [&] { backward_stages(cache.backward, in, out, grad_out, grad_in, grads, ws); });
  }

 private:
  // The plans forward and forward_for_backward made last with a workspace, and the backward stages of
  // the last forward_for_backward it ran.
  struct PlanCache {
    Plan plans[2];
    Strategy strategies[2];
    const Sequential* model[2] = {nullptr, nullptr};
    std::uint64_t revision[2] = {0, 0};
    std::vector<BackwardStage> backward;
    const Sequential* backward_model = nullptr;
    std::uint64_t backward_revision = 0;
    Shape backward_input;

    bool backward_for(const Sequential& m, const Shape& in) const {
      return backward_model == &m && backward_revision == m.revision_ && backward_input == in;
    }
    void keep_backward(const Sequential& m, const Plan& plan) {
      backward.assign(plan.backward.begin(), plan.backward.end());  // no allocation once it has the room
      backward_model = &m;
      backward_revision = m.revision_;
      backward_input = plan.input;
    }
  };

  // The plan of `pass` for input `in` under `strategy` in the calling scope, kept in `ws`: made again
  // only for another input, strategy, model or scope.
  const Plan& cached_plan(const Shape& in, const Strategy& strategy, Pass pass, Workspace<T>& ws) const {
    PlanCache& cache = ws.template state<PlanCache>();
    const std::size_t k = pass == Pass::inference ? 0 : 1;
    const ExecutorProfile profile = ExecutorProfile::current();
    Plan& kept = cache.plans[k];
    if (cache.model[k] != this || cache.revision[k] != revision_ || kept.input != in ||
        !cache.strategies[k].same_as(strategy) || !kept.profile.fits(profile)) {
      kept = plan(in, strategy, pass, profile);
      cache.strategies[k] = strategy;
      cache.model[k] = this;
      cache.revision[k] = revision_;
    }
    return kept;
  }

  // ConfigError or ShapeError unless `plan` is a plan of `pass` for this model, this input shape and
  // the calling scope's workers.
  void check_plan(const Plan& plan, const Shape& in, Pass pass) const {
    const char* kind = pass == Pass::inference ? "forward" : "forward_for_backward";
    if (plan.pass != pass)
      throw ConfigError(std::string("Sequential::") + kind + ": the plan is for " +
                        (plan.pass == Pass::inference ? "forward" : "forward_for_backward"));
    bool same_model = plan.layer_names.size() == layers_.size();
    for (std::size_t i = 0; same_model && i < layers_.size(); ++i) same_model = plan.layer_names[i] == layers_[i].first;
    if (!same_model) throw ConfigError(std::string("Sequential::") + kind + ": the plan was made for another model");
    if (plan.input != in)
      throw ShapeError(std::string("Sequential::") + kind + ": the plan was made for input " + plan.input.str() +
                       ", got " + in.str());
    if (plan.profile.workers != current_workers())
      throw ConfigError(std::string("Sequential::") + kind + ": the plan was made for " +
                        std::to_string(plan.profile.workers) + " worker(s); this scope has " +
                        std::to_string(current_workers()));
  }

  // Runs `plan` (checked, or made for this input: every layer's shape checked before any runs) into
  // the output it keeps in `ws`; a view of it.
  TensorView<const T> run_plan(TensorView<const T> in, const Plan& plan, Workspace<T>& ws) const {
    if (layers_.empty()) return in;
    Tensor<T>& y = ws.tensor(layers_.size() - 1, plan.output);
    execute(in, y.view(), plan, ws);
    return y.view();
  }

  // Runs `plan` (checked): depth-first blocks, each through every stage on one worker, or the stages
  // in turn with the plan's team keeping the workers between them.
  void execute(TensorView<const T> in, TensorView<T> out, const Plan& plan, Workspace<T>& ws) const {
    if (plan.pass == Pass::for_backward) ws.template state<PlanCache>().keep_backward(*this, plan);
    if (!plan.depth_first()) {
      Team::run(plan.team, [&] { run_stages(in, out, plan, ws); });
      return;
    }
    // Each block has a workspace of its own (the same block index gets the same workspace on every
    // call, so a steady state allocates nothing), after the per-layer ones.
    const std::size_t L = layers_.size();
    const Cut& cut = plan.batch_blocks;
    const BlockGrid grid(IndexSpace{in.dim(0)}, cut);
    ws.child(L + grid.count() - 1);  // created here: blocks only look theirs up
    if (L > 1) ws.tensor(0, Shape{0});  // no activations for backward (checked there)
    run_blocks(IndexSpace{in.dim(0)}, cut, [&](const Block& blk, std::size_t) {
      Workspace<T>& bws = ws.child(L + blk.n.begin / cut.n);
      run_stages(in.batch(blk.n.begin, blk.n.end), out.batch(blk.n.begin, blk.n.end), plan, bws);
    });
  }

  // Every stage of `plan` in turn on `in` (the whole batch, or a depth-first block of it), each cut as
  // planned, its output in ws.tensor(its last layer). A fused stage marks its first layer's output as
  // absent, so that backward cannot run on a stale one; in a forward for backward it keeps the pool's
  // values and positions where the pool's own forward for backward keeps them (an element-wise layer's
  // output is the stage's).
  void run_stages(TensorView<const T> in, TensorView<T> out, const Plan& plan, Workspace<T>& ws) const {
    const std::size_t L = layers_.size();
    TensorView<const T> x = in;
    for (const PlanStage& st : plan.stages) {
      const std::size_t i = st.first;
      const Layer<T>& layer = *layers_[i].second;
      const kernels::PostOps& e = st.post_ops;
      const Shape stage_out = plan.depth_first() ? layer.fused_output_shape(x.shape(), e) : st.out;
      TensorView<T> y = st.next == L ? out : ws.tensor(st.next - 1, stage_out).view();
      if (st.next > i + 1) {
        ws.tensor(i, Shape{0});  // the first layer's output is not kept
        ws.child(i + 1).indices(0);
      }
      const Strategy cut = st.blocks > 1 ? Strategy(strategy::Fixed{st.cut}) : Strategy(strategy::Serial{});
      if (plan.pass == Pass::inference) {
        layer.forward_fused(x, y, e, cut, ws.child(i));
      } else if (st.next == i + 1) {
        layer.forward_for_backward(x, y, cut, ws.child(i));
      } else if (!e.pools()) {  // an element-wise layer: its output is the stage's
        layer.forward_fused_for_backward(x, TensorView<T>(), nullptr, y, e, cut, ws.child(i));
      } else {
        const TensorView<T> pooled = e.has_elementwise() ? ws.tensor(i + 1, stage_out).view() : TensorView<T>();
        std::uint32_t* positions = ws.child(i + 1).indices(stage_out.numel());
        layer.forward_fused_for_backward(x, pooled, positions, y, e, cut, ws.child(i));
      }
      x = y;
    }
  }

  // The backward passes of `stages` (a for_backward plan's), last to first; the activations are
  // checked (run_backward).
  void backward_stages(const std::vector<BackwardStage>& stages, TensorView<const T> in, TensorView<const T> out,
                       TensorView<const T> grad_out, TensorView<T> grad_in, GradientSlice<T> grads,
                       Workspace<T>& ws) const {
    const std::size_t L = layers_.size();
    auto activation = [&](std::size_t k) { return k + 1 == L ? out : TensorView<const T>(ws.tensor(k).view()); };
    std::size_t p = parameter_count();  // one past the stage's parameters, counted from grads.first
    for (std::size_t s = stages.size(); s-- > 0;) {
      const BackwardStage& st = stages[s];
      const std::size_t i = st.first, next = st.next;
      std::size_t stage_parameters = 0;
      for (std::size_t k = i; k < next; ++k) stage_parameters += layers_[k].second->parameter_count();
      p -= stage_parameters;
      const TensorView<const T> layer_in = i == 0 ? in : activation(i - 1);
      const TensorView<const T> g = next == L ? grad_out : TensorView<const T>(ws.tensor(L + next - 1).view());
      TensorView<T> layer_grad_in = i == 0 ? grad_in : ws.tensor(L + i - 1, layer_in.shape()).view();
      if (next == i + 1) {
        layers_[i].second->backward(layer_in, activation(i), g, layer_grad_in, grads.from(p), ws.child(i));
      } else {
        // The pool's output (without a pool, the element-wise layer's) and the window positions the pool
        // recorded in forward_for_backward, when it did for these maps.
        const TensorView<const T> pooled = activation(i + 1);
        const Workspace<T>& pool_ws = ws.child(i + 1);
        const std::uint32_t* positions = pool_ws.index_count() == pooled.size() ? pool_ws.indices() : nullptr;
        layers_[i].second->backward_fused(layer_in, activation(i), pooled, g, layer_grad_in, st.post_ops, grads.from(p),
                                          ws.child(i), positions);
      }
      if (grads.observer && grads.chunks) grads.observer->finished(grads.first + p, stage_parameters, grads.chunk_range());
    }
  }

  // Layer i's output shape for input shape `in`; a ShapeError names the layer's position and name.
  Shape layer_output_shape(std::size_t i, const Shape& in) const {
    try {
      return layers_[i].second->output_shape(in);
    } catch (const ShapeError& e) {
      throw ShapeError("Sequential: layer " + std::to_string(i) + " '" + layers_[i].first + "': " + e.what());
    }
  }

  std::vector<std::pair<std::string, std::unique_ptr<Layer<T>>>> layers_;
  bool fuse_ = true;
  kernels::GemmBackend gemm_ = kernels::GemmBackend::parcnn;
  std::uint64_t revision_ = 0;  // changes with every add and fuse_post_ops: the plans kept for it are stale
};

}  // namespace parcnn
