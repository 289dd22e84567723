// parcnn/layers/sequential.hpp — Sequential: named layers run one after another.
//
// Shapes are inferred for every layer before anything runs, so a mis-shaped input fails at once with
// the name and position of the layer that cannot take it. Intermediate activations live in the caller's
// Workspace: `forward(x, strategy, ws)` returns a view of the last one and, once `ws` has seen the
// input shape, allocates nothing. `backward` walks the layers in reverse over the activations the
// forward pass left in the same Workspace.
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
#include "parcnn/layers/layer.hpp"
#include "parcnn/parallel/run.hpp"
#include "parcnn/parallel/strategy.hpp"
#include "parcnn/parallel/team.hpp"
#include "parcnn/parallel/threads.hpp"

namespace parcnn {

template <class T>
class Sequential final : public Layer<T> {
 public:
  Sequential() = default;
  Sequential(const Sequential& other) : fuse_(other.fuse_) {
    for (const auto& [name, layer] : other.layers_) layers_.emplace_back(name, layer->clone());
  }
  Sequential(Sequential&&) noexcept = default;
  Sequential& operator=(Sequential other) noexcept {
    layers_.swap(other.layers_);
    fuse_ = other.fuse_;
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
    layers_.emplace_back(std::move(name), std::move(layer));
    return *this;
  }

  // Whether forward and backward fuse epilogues (on by default). In forward a layer that accepts one
  // (Conv2d) runs the 2×2 max pool and GELU layers after it on its output tile (kernels/epilogue.hpp):
  // the same bits either way. Backward runs such a layer's backward pass through the pool and GELU
  // after it in one (Layer::backward_fused): the same values up to rounding, the same bits on every cut
  // and thread count; and forward_for_backward fuses them where the layer can keep what that backward
  // reads instead of its own output (Layer::accepts_epilogue_for_backward): the same bits. Off, every
  // layer runs on its own (to time them apart, say).
  Sequential& fuse_epilogues(bool on) {
    fuse_ = on;
    return *this;
  }
  bool fuses_epilogues() const { return fuse_; }

  // The stage of forward that starts at layer `first` on input shape `in` with `workers` slots under
  // `strategy`: that layer with the epilogue `e` of the layers after it that it runs on its output;
  // returns one past the stage's last layer. Shapes must be valid. No fusion with fusion off, nor with
  // fewer images than workers where the strategy would cut the fused stage's pooled maps: they split
  // coarsely (conv2's 5 pooled rows against its 11 rows). A stage run on one worker fuses (conv1 + pool1
  // + gelu1 at batch 1, through im2col: 6.7 µs fused, 7.2 layer by layer), and so does one cut by
  // channels alone, whose blocks keep whole maps (conv2 + pool2 + gelu2 at batch 1 on 2 threads: 16.4 µs
  // fused and cut by channel, 17.8 layer by layer with conv2 cut by rows).
  std::size_t stage(std::size_t first, const Shape& in, kernels::Epilogue& e, std::size_t workers = current_workers(),
                    const Strategy& strategy = Strategy()) const {
    e = kernels::Epilogue{};
    std::size_t next = first + 1;
    if (!fuse_) return next;
    const Layer<T>& head = *layers_[first].second;
    Shape s = head.output_shape(in);
    for (; next < layers_.size(); ++next) {
      const Layer<T>& layer = *layers_[next].second;
      const std::optional<kernels::EpilogueStep> step = layer.epilogue_step(s);
      if (!step || !e.can_append(*step) || !head.accepts_epilogue(e.then(*step))) break;
      e = e.then(*step);
      s = layer.output_shape(s);
    }
    if (next > first + 1 && workers > 1 && in.rank() > 0 && in[0] < workers) {
      const Workload fused = head.fused_workload(in, e);
      const BlockGrid grid(fused.space, strategy.cut(fused, workers));
      const bool inside_maps = grid.cut().h < fused.space.h || grid.cut().w < fused.space.w;
      if (grid.count() > 1 && inside_maps) {
        e = kernels::Epilogue{};
        return first + 1;
      }
    }
    return next;
  }

  // The stage of a backward pass that starts at layer `first` on input shape `in`: that layer with the
  // epilogue `e` of the layers after it (a 2×2 max pool, then GELU or not) that its backward_fused runs
  // them with (Layer::accepts_backward_epilogue), none with fusion off; returns one past its last layer.
  std::size_t backward_stage(std::size_t first, const Shape& in, kernels::Epilogue& e) const {
    e = kernels::Epilogue{};
    std::size_t next = first + 1;
    if (!fuse_) return next;
    const Layer<T>& head = *layers_[first].second;
    Shape s = head.output_shape(in);
    kernels::Epilogue trial;
    for (std::size_t k = first + 1; k < layers_.size(); ++k) {
      const std::optional<kernels::EpilogueStep> step = layers_[k].second->epilogue_step(s);
      if (!step || !trial.can_append(*step)) break;
      trial = trial.then(*step);
      if (!head.accepts_backward_epilogue(in, trial)) break;
      e = trial;
      next = k + 1;
      s = layers_[k].second->output_shape(s);
    }
    return next;
  }

  // The stage of forward_for_backward that starts at layer `first` on input shape `in`: the stage of
  // backward there (backward_stage) where its first layer can run it forward keeping what its backward
  // reads (Layer::accepts_epilogue_for_backward), else the layer alone; returns one past its last layer.
  std::size_t for_backward_stage(std::size_t first, const Shape& in, kernels::Epilogue& e) const {
    const std::size_t next = backward_stage(first, in, e);
    if (next > first + 1 && layers_[first].second->accepts_epilogue_for_backward(in, e)) return next;
    e = kernels::Epilogue{};
    return first + 1;
  }

  // A stage of forward: layers [first, next), the first running the others as its epilogue.
  struct Stage {
    std::size_t first, next;
    kernels::Epilogue epilogue;
    Shape in;  // the first layer's input shape
    Workload work;
  };

  // Every stage of forward on input shape `in` with `workers` slots under `strategy`, in order (for
  // plans and tools: it allocates).
  std::vector<Stage> stages(const Shape& in, std::size_t workers = current_workers(),
                            const Strategy& strategy = Strategy()) const {
    std::vector<Stage> all;
    any_stage(in, workers, strategy, Pass::inference,
              [&](std::size_t first, std::size_t next, const kernels::Epilogue& e, const Shape& x) {
                all.push_back(Stage{first, next, e, x, layers_[first].second->fused_workload(x, e)});
                return false;
              });
    return all;
  }

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

  using Layer<T>::forward;

  // Runs every layer; returns a view of the output, which lives in `ws` until its next use. Depending
  // on the strategy the model runs layer by layer or depth-first (see depth_first_cut), and with or
  // without fused epilogues (fuse_epilogues); all give the same bits. To call backward afterwards, run
  // forward_for_backward instead.
  TensorView<const T> forward(TensorView<const T> in, const Strategy& strategy, Workspace<T>& ws) const {
    const Shape out_shape = output_shape(in.shape());  // every layer checked before any runs
    if (layers_.empty()) return in;
    Tensor<T>& y = ws.tensor(layers_.size() - 1, out_shape);
    run(in, y.view(), strategy, ws);
    return y.view();
  }

  using Layer<T>::forward_for_backward;

  // forward layer by layer, unfused, each layer cut by `strategy`, keeping every activation in `ws`:
  // what backward needs.
  TensorView<const T> forward_for_backward(TensorView<const T> in, const Strategy& strategy, Workspace<T>& ws) const {
    const Shape out_shape = output_shape(in.shape());
    if (layers_.empty()) return in;
    Tensor<T>& y = ws.tensor(layers_.size() - 1, out_shape);
    run_for_backward(in, y.view(), strategy, ws);
    return y.view();
  }

  // How forward cuts the batch for depth-first execution: blocks of images, each run through every
  // layer in one task (layers run sequentially inside it), so a call costs one fork-join instead of
  // one per layer, and a block's activations stay in cache from one layer to the next. The whole batch
  // as one block means layer by layer, each layer cut by the strategy.
  //  - Batch: its cut of the batch (grain, or about four blocks per worker);
  //  - Auto: depth-first when every worker gets an image and the model is worth a fork-join, one
  //    block per worker (two when each keeps `Auto::depth_first_min_images`) of at most
  //    `Auto::depth_first_max_images` (at batch 7 on 2 threads blocks of 4
  //    and 3 images beat cutting inside images layer by layer: 16.3k against 11.2k images/s). One
  //    worker gets blocks too once the batch exceeds that cap, for the caches, unless the model fuses
  //    epilogues: the activations between fused stages are small and blocks no longer pay (letter
  //    CNN at batch 256 on 1 thread, network_bench: fused 9.3–9.4 ms layer by layer, 9.5–9.9 in blocks;
  //    unfused 17.2 ms layer by layer, 14.9 ms in blocks);
  //  - Tuned: the measured choice for this model, input and worker count (tune() records it under the
  //    model's workload), else as Auto;
  //  - every other strategy cuts inside images: layer by layer.
  Cut depth_first_cut(const Shape& in, const Strategy& strategy, std::size_t workers = current_workers()) const {
    const Workload work = workload(in);  // its space is the batch
    const Cut whole = Cut::whole(work.space);
    if (layers_.size() < 2 || work.space.n < 2) return whole;
    if (const auto* batch = std::get_if<strategy::Batch>(&strategy.value())) return batch->cut(work, workers);
    if (const auto* t = std::get_if<strategy::Tuned>(&strategy.value())) {
      if (const auto* e = t->find(work, workers)) return e->cut;
      return auto_depth_first_cut(in, work, t->fallback, workers);
    }
    if (const auto* a = std::get_if<strategy::Auto>(&strategy.value())) return auto_depth_first_cut(in, work, *a, workers);
    return whole;
  }

  // The strategy each layer of forward's layer-by-layer pass on input `in` cuts by with `workers`
  // slots, as run inside a Threads scope of `workers` threads: Auto decides as in a team
  // (Auto::in_team) where the pass keeps one, any other strategy as given.
  Strategy layer_by_layer_strategy(const Shape& in, const Strategy& strategy,
                                   std::size_t workers = current_workers()) const {
    Strategy cuts;
    with_pass_strategy(in, strategy, Pass::inference, [&](const Strategy& s, std::size_t) { cuts = s; }, workers,
                       /*in_scope=*/true);
    return cuts;
  }

  // One line per layer: its output shape, its work (FLOPs, and its estimated time on one core) and the
  // cut `strategy` makes of it with `workers` slots inside a Threads scope (the way to run a model;
  // outside one no team forms), with the reason where the strategy is Auto.
  std::string describe(const Shape& in, const Strategy& strategy, std::size_t workers = current_workers()) const {
    const std::vector<Shape> s = shapes(in);
    std::string text;
    const Cut df = depth_first_cut(in, strategy, workers);
    const bool depth_first = df.n < (in.rank() ? in[0] : 1);
    if (depth_first) {
      char line[200];
      std::snprintf(line, sizeof line,
                    "depth-first: %zu images in %zu blocks of up to %zu, one task each; inside a block every layer "
                    "runs sequentially\n",
                    in[0], BlockGrid(IndexSpace{in[0]}, df).count(), df.n);
      text += line;
    }
    if (const auto* t = std::get_if<strategy::Tuned>(&strategy.value()))
      if (const auto* e = t->find(workload(in), workers))  // the model's entry (see tune())
        text += "whole model, measured: " + strategy::Tuned::timings_text(*e) + "\n";
    const Strategy cuts = depth_first ? strategy : layer_by_layer_strategy(in, strategy, workers);
    for (const Stage& st : stages(in, depth_first ? 1 : workers, cuts)) {
      const std::size_t i = st.first;
      const Workload& w = st.work;
      const strategy::AutoChoice c = depth_first
                                         ? strategy::AutoChoice{"sequential", Cut::whole(w.space), "inside a depth-first block"}
                                         : cuts.explain(w, workers);
      const BlockGrid grid(w.space, c.cut);
      char line[512];
      std::snprintf(line, sizeof line, "%-12s %-26s -> %-18s %9.3f MFLOP %9.1f us/core  %-11s %4zu blocks  %s\n",
                    layers_[i].first.c_str(), layers_[i].second->name().c_str(), s[i].str().c_str(), w.flops / 1e6,
                    strategy::Auto{}.estimated_ns(w) / 1e3, c.strategy.c_str(), grid.count(), c.reason.c_str());
      text += line;
      for (std::size_t j = i + 1; j < st.next; ++j) {
        std::snprintf(line, sizeof line, "%-12s %-26s -> %-18s in %s's epilogue\n", layers_[j].first.c_str(),
                      layers_[j].second->name().c_str(), s[j].str().c_str(), layers_[i].first.c_str());
        text += line;
      }
    }
    return text;
  }

 protected:
  void run(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>& ws) const override {
    const Cut cut = depth_first_cut(in.shape(), strategy);
    if (cut.n >= in.dim(0)) {  // one cut per layer: a team keeps the workers awake between them
      with_pass_strategy(in.shape(), strategy, Pass::inference, [&](const Strategy& s, std::size_t team) {
        Team::run(team, [&] { run_layer_by_layer(in, out, s, ws, Pass::inference); });
      });
      return;
    }
    // Depth-first. Each block has a workspace of its own (the same block index gets the same workspace
    // on every call, so a steady state allocates nothing), after the per-layer ones.
    const std::size_t L = layers_.size();
    const BlockGrid grid(IndexSpace{in.dim(0)}, cut);
    ws.child(L + grid.count() - 1);  // created here: blocks only look theirs up
    if (L > 1) ws.tensor(0, Shape{0});  // no activations for backward (checked there)
    run_blocks(IndexSpace{in.dim(0)}, cut, [&](const Block& blk, std::size_t) {
      Workspace<T>& bws = ws.child(L + blk.n.begin / cut.n);
      run_layer_by_layer(in.batch(blk.n.begin, blk.n.end), out.batch(blk.n.begin, blk.n.end), strategy::Sequential{},
                         bws, Pass::inference, /*workers=*/1);
    });
  }

  void run_for_backward(TensorView<const T> in, TensorView<T> out, const Strategy& strategy,
                        Workspace<T>& ws) const override {
    with_pass_strategy(in.shape(), strategy, Pass::for_backward, [&](const Strategy& s, std::size_t team) {
      Team::run(team, [&] { run_layer_by_layer(in, out, s, ws, Pass::for_backward); });
    });
  }

  enum class Pass { inference, for_backward };

  // Calls f(the strategy each layer of a layer-by-layer pass cuts by, the workers of its team): Auto
  // in a team decides as one (Auto::in_team), any other strategy as given. A team forms only where
  // Team::can_lead (in a Threads scope), or is assumed to with `in_scope` (a plan described for one).
  // Allocates nothing.
  template <class F>
  void with_pass_strategy(const Shape& in, const Strategy& strategy, Pass pass, F&& f,
                          std::size_t workers = current_workers(), bool in_scope = false) const {
    const std::size_t team = team_size(in, strategy, pass, workers);
    const auto* a = std::get_if<strategy::Auto>(&strategy.value());
    if (a && team > 1 && (in_scope || Team::can_lead(team)))
      f(Strategy(a->in_team()), team);
    else
      f(strategy, team);
  }

  // Every stage in turn, each cut by `strategy`, its output in ws.tensor(its last layer). In inference
  // a stage is a layer with the epilogue it fuses (see stage(); `workers` is 1 inside a depth-first
  // block, which runs on one thread), and a fused stage marks its first layer's activation as absent
  // so that backward cannot run on a stale one; for backward every layer is a stage, run by
  // forward_for_backward.
  void run_layer_by_layer(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>& ws,
                          Pass pass, std::size_t workers = current_workers()) const {
    const std::size_t L = layers_.size();
    if (L == 0) {
      std::copy(in.begin(), in.end(), out.begin());
      return;
    }
    TensorView<const T> x = in;  // output_shape(in) has checked every layer already
    for (std::size_t i = 0; i < L;) {
      kernels::Epilogue e;
      const std::size_t next =
          pass == Pass::inference ? stage(i, x.shape(), e, workers, strategy) : for_backward_stage(i, x.shape(), e);
      const Layer<T>& layer = *layers_[i].second;
      const Shape stage_out = layer.fused_output_shape(x.shape(), e);
      TensorView<T> y = next == L ? out : ws.tensor(next - 1, stage_out).view();
      if (next > i + 1) {
        ws.tensor(i, Shape{0});  // the first layer's output is not kept
        ws.child(i + 1).indices(0);
      }
      if (pass == Pass::inference) {
        layer.forward_fused(x, y, e, strategy, ws.child(i));
      } else if (next == i + 1) {
        layer.forward_for_backward(x, y, strategy, ws.child(i));
      } else {  // the pool's values and positions where the pool's own forward pass keeps them
        const TensorView<T> pooled = e.gelu ? ws.tensor(i + 1, stage_out).view() : TensorView<T>();
        std::uint32_t* positions = ws.child(i + 1).indices(stage_out.numel());
        layer.forward_fused_for_backward(x, pooled, positions, y, e, strategy, ws.child(i));
      }
      x = y;
      i = next;
    }
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
      // A layer whose forward_for_backward ran fused keeps no output, but the pool after it its positions.
      const bool fused = ws.has_tensor(i) && ws.tensor(i).shape() == Shape{0} &&
                         ws.child(i + 1).index_count() == layers_[i + 1].second->output_shape(s).numel();
      if (!fused && (!ws.has_tensor(i) || ws.tensor(i).shape() != s))
        throw ConfigError("Sequential::backward: the workspace holds no activations of layer " + std::to_string(i) +
                          " '" + layers_[i].first + "' for input " + in.shape().str() +
                          "; run forward_for_backward with this workspace first");
    }
    Team::run(current_workers(), [&] { backward_layers(in, out, grad_out, grad_in, grads, ws); });
  }

 private:
  // Every stage's backward, last to first; the activations are checked (run_backward).
  void backward_layers(TensorView<const T> in, TensorView<const T> out, TensorView<const T> grad_out,
                       TensorView<T> grad_in, GradientSlice<T> grads, Workspace<T>& ws) const {
    backward_from(0, 0, in, out, grad_out, grad_in, grads, ws);
  }

  // The backward passes of the stages from layer i on, whose parameters start at `p` (counted from
  // grads.first): the later stages first (recursing once per stage), then the one at i.
  void backward_from(std::size_t i, std::size_t p, TensorView<const T> in, TensorView<const T> out,
                     TensorView<const T> grad_out, TensorView<T> grad_in, GradientSlice<T> grads,
                     Workspace<T>& ws) const {
    const std::size_t L = layers_.size();
    if (i == L) return;
    auto activation = [&](std::size_t k) { return k + 1 == L ? out : TensorView<const T>(ws.tensor(k).view()); };
    const TensorView<const T> layer_in = i == 0 ? in : activation(i - 1);
    kernels::Epilogue e;
    const std::size_t next = backward_stage(i, layer_in.shape(), e);
    std::size_t params = 0;
    for (std::size_t k = i; k < next; ++k) params += layers_[k].second->parameter_count();
    backward_from(next, p + params, in, out, grad_out, grad_in, grads, ws);
    const TensorView<const T> g = next == L ? grad_out : TensorView<const T>(ws.tensor(L + next - 1).view());
    TensorView<T> layer_grad_in = i == 0 ? grad_in : ws.tensor(L + i - 1, layer_in.shape()).view();
    if (next == i + 1) {
      layers_[i].second->backward(layer_in, activation(i), g, layer_grad_in, grads.from(p), ws.child(i));
      return;
    }
    // The window positions the pool recorded in forward_for_backward, when it did for these maps.
    const TensorView<const T> pooled = activation(i + 1);
    const Workspace<T>& pool_ws = ws.child(i + 1);
    const std::uint32_t* positions = pool_ws.index_count() == pooled.size() ? pool_ws.indices() : nullptr;
    layers_[i].second->backward_fused(layer_in, activation(i), pooled, g, layer_grad_in, e, grads.from(p), ws.child(i),
                                      positions);
  }

  Cut auto_depth_first_cut(const Shape& in, const Workload& work, const strategy::Auto& a, std::size_t workers) const {
    const std::size_t n = work.space.n;
    Cut c = Cut::whole(work.space);
    if (n < workers || (workers > 1 && a.saved_ns(work, workers) <= a.fork_join_cost())) return c;
    const std::size_t w = std::max<std::size_t>(workers, 1);
    const std::size_t per_worker = w > 1 && ceil_div(n, 2 * w) >= a.depth_first_min_images ? 2 : 1;
    c.n = std::min(a.depth_first_max_images, ceil_div(n, per_worker * w));
    if (w == 1 && c.n < n && fuses_any(in)) return Cut::whole(work.space);
    return c;
  }

  // The workers a layer-by-layer pass on input shape `in` keeps in a team: all of them when two stages
  // or more are cut into several blocks, else 1. A team costs about one fork-join to gather (Team::run)
  // and saves one on every cut stage: with a single one it only adds its hand-off (conv1 with its pool
  // and GELU at batch 1 on 2 threads, fused and cut by channel: 5.7–6.0 µs in a team, 4.1 without).
  std::size_t team_size(const Shape& in, const Strategy& strategy, Pass pass,
                        std::size_t workers = current_workers()) const {
    if (workers <= 1) return 1;
    std::size_t cut_stages = 0;
    const bool two = any_stage(in, workers, strategy, pass,
                               [&](std::size_t first, std::size_t, const kernels::Epilogue& e, const Shape& x) {
                                 const Workload w = layers_[first].second->fused_workload(x, e);
                                 cut_stages += BlockGrid(w.space, strategy.cut(w, workers)).count() > 1;
                                 return cut_stages >= 2;
                               });
    return two ? workers : 1;
  }

  // Whether forward on input shape `in` runs any fused epilogue (with one worker, as in a block).
  bool fuses_any(const Shape& in) const {
    return any_stage(in, 1, Strategy(), Pass::inference,
                     [](std::size_t first, std::size_t next, const kernels::Epilogue&, const Shape&) {
                       return next > first + 1;
                     });
  }

  // Walks the stages of a pass on input shape `in` with `workers` slots under `strategy` (in inference
  // a layer with the epilogue it fuses, see stage(); for backward, for_backward_stage), calling
  // f(first, next, epilogue, stage input shape) on each until f returns true; returns whether one did.
  // Allocates nothing.
  template <class F>
  bool any_stage(const Shape& in, std::size_t workers, const Strategy& strategy, Pass pass, F&& f) const {
    Shape x = in;
    for (std::size_t i = 0; i < layers_.size();) {
      kernels::Epilogue e;
      const std::size_t next = pass == Pass::inference ? stage(i, x, e, workers, strategy) : for_backward_stage(i, x, e);
      if (f(i, next, e, x)) return true;
      x = layers_[i].second->fused_output_shape(x, e);
      i = next;
    }
    return false;
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
};

}  // namespace parcnn
