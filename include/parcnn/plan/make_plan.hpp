// parcnn/plan/make_plan.hpp — make_plan: the one place where a model's execution is decided.
//
// For a model (a Sequential: layers by position, each a Layer<T>), an input shape, a strategy and the
// profile of the executor that will run it, make_plan decides once what every forward pass then only
// executes (plan/plan.hpp):
//  - the stages: which layers after a layer it runs as post-ops on its output (forward_stage: in
//    inference those it accepts — a convolution a 2×2 max pool and element-wise layers, unless the cut
//    would split the pooled maps coarsely; in a forward for backward those its fused backward runs
//    through, backward_stage);
//  - depth-first or layer by layer (depth_first_cut): in depth-first blocks of images every stage runs
//    sequentially inside a block, one task per block, one fork-join per call;
//  - whether a team keeps the workers between stages (two cut stages or more: team_size), and so
//    whether strategy::Auto prices a cut as a team's hand-off or as a oneTBB fork-join;
//  - each stage's cut, the fixed strategy it comes from and why, and the kernel path the layer takes
//    for that cut (Layer::algorithm).
// Strategies decide from the workload and the profile alone: Auto's cut costs scale with the profile's
// hand-off, not with whatever scope the plan happens to be built in.
#pragma once

#include <algorithm>
#include <string>
#include <variant>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/core/range.hpp"
#include "parcnn/core/shape.hpp"
#include "parcnn/kernels/post_ops.hpp"
#include "parcnn/parallel/executor_profile.hpp"
#include "parcnn/parallel/index_space.hpp"
#include "parcnn/parallel/strategy.hpp"
#include "parcnn/plan/plan.hpp"

namespace parcnn::planner {

// `strategy` deciding for `profile`: an Auto (or a Tuned's fallback) that measures nothing itself
// takes the profile's hand-off.
inline Strategy for_profile(const Strategy& strategy, const ExecutorProfile& profile) {
  if (const auto* a = std::get_if<strategy::Auto>(&strategy.value())) {
    strategy::Auto b = *a;
    if (b.hand_off_ns < 0) b.hand_off_ns = profile.hand_off_ns;
    return b;
  }
  if (const auto* t = std::get_if<strategy::Tuned>(&strategy.value())) {
    strategy::Tuned u = *t;
    if (u.fallback.hand_off_ns < 0) u.fallback.hand_off_ns = profile.hand_off_ns;
    return u;
  }
  return strategy;
}

// The post-ops `post_ops` followed by layer `k`'s, on that layer's input shape `in`, where the list has
// room and layer k is a post-op there; false otherwise.
template <class Model>
bool append_post_op(const Model& model, std::size_t k, const Shape& in, kernels::PostOps& post_ops) {
  const auto op = model[k].as_post_op(in);
  if (!op || post_ops.full()) return false;
  post_ops = post_ops.then(*op);
  return true;
}

// Layer `first` on input shape `in` with the longest list `e` of post-ops that the layers after it make
// and it accepts in `pass` (none with the model's fusion off); returns one past the stage's last layer.
template <class Model>
std::size_t longest_stage(const Model& model, std::size_t first, const Shape& in, Pass pass, kernels::PostOps& e) {
  e = kernels::PostOps{};
  std::size_t next = first + 1;
  if (!model.fuses_post_ops()) return next;
  const auto& head = model[first];
  Shape s = head.output_shape(in);
  for (kernels::PostOps trial; next < model.size(); ++next) {
    if (!append_post_op(model, next, s, trial) || !head.accepts(in, trial, pass)) break;
    e = trial;
    s = model[next].output_shape(s);
  }
  return next;
}

// The stage of an inference pass that starts at layer `first` on input shape `in` with `workers`
// workers under `strategy`: that layer with the post-ops `e` it accepts of the layers after it
// (Layer::accepts, Pass::inference); returns one past the stage's last layer. Shapes must be valid. No
// fusion with the model's fusion off, nor with fewer images than workers where the strategy would cut
// the fused stage's pooled maps: they split coarsely (a 5-row pooled map cut against the
// convolution's 11 rows). A stage run on one worker fuses, and so does one cut by channels alone,
// whose blocks keep whole maps.
template <class Model>
std::size_t forward_stage(const Model& model, std::size_t first, const Shape& in, kernels::PostOps& e,
                          std::size_t workers, const Strategy& strategy = Strategy()) {
  const std::size_t next = longest_stage(model, first, in, Pass::inference, e);
  if (e.pools() && workers > 1 && in.rank() > 0 && in[0] < workers) {
    const Workload fused = model[first].fused_workload(in, e);
    const BlockGrid grid(fused.space, strategy.cut(fused, workers));
    const bool inside_maps = grid.cut().h < fused.space.h || grid.cut().w < fused.space.w;
    if (grid.count() > 1 && inside_maps) {
      e = kernels::PostOps{};
      return first + 1;
    }
  }
  return next;
}

// The stage of a backward pass that starts at layer `first` on input shape `in`: that layer with the
// post-ops `e` its backward_fused runs through (Layer::accepts, Pass::for_backward: Conv2d, a 2×2 max
// pool and an element-wise layer or not), none with fusion off; returns one past its last layer. The
// forward for backward fuses the same stage: it keeps what that backward reads.
template <class Model>
std::size_t backward_stage(const Model& model, std::size_t first, const Shape& in, kernels::PostOps& e) {
  return longest_stage(model, first, in, Pass::for_backward, e);
}

// Walks the stages of a pass on input shape `in` with `workers` workers under `strategy`, calling
// f(first, next, post-ops, stage input shape) on each until f returns true; returns whether one did.
template <class Model, class F>
bool any_stage(const Model& model, const Shape& in, std::size_t workers, const Strategy& strategy, Pass pass, F&& f) {
  Shape x = in;
  for (std::size_t i = 0; i < model.size();) {
    kernels::PostOps e;
    const std::size_t next = pass == Pass::inference ? forward_stage(model, i, x, e, workers, strategy)
                                                     : backward_stage(model, i, x, e);
    if (f(i, next, e, x)) return true;
    x = model[i].fused_output_shape(x, e);
    i = next;
  }
  return false;
}

namespace detail {
// The stage of layers [first, next) with post-ops `e` on input shape `x`: its shapes and workload, no cut.
template <class Model>
PlanStage stage_of(const Model& model, std::size_t first, std::size_t next, const kernels::PostOps& e, const Shape& x) {
  PlanStage st;
  st.first = first;
  st.next = next;
  st.post_ops = e;
  st.in = x;
  st.out = model[first].fused_output_shape(x, e);
  st.work = model[first].fused_workload(x, e);
  return st;
}
}  // namespace detail

// The stages of a layer-by-layer pass on input shape `in` with `workers` workers under `strategy`, with
// their shapes and workloads but no cut (for tools that time stages one by one; it allocates).
template <class Model>
std::vector<PlanStage> stages(const Model& model, const Shape& in, std::size_t workers,
                              const Strategy& strategy = Strategy(), Pass pass = Pass::inference) {
  std::vector<PlanStage> all;
  any_stage(model, in, workers, strategy, pass,
            [&](std::size_t first, std::size_t next, const kernels::PostOps& e, const Shape& x) {
              all.push_back(detail::stage_of(model, first, next, e, x));
              return false;
            });
  return all;
}

namespace detail {
template <class Model>
Cut auto_depth_first_cut(const Model& model, const Shape& in, const Workload& work, const strategy::Auto& a,
                         std::size_t workers) {
  const std::size_t n = work.space.n;
  Cut c = Cut::whole(work.space);
  if (n < workers || (workers > 1 && a.saved_ns(work, workers) <= a.fork_join_cost())) return c;
  const std::size_t w = std::max<std::size_t>(workers, 1);
  const std::size_t per_worker = w > 1 && ceil_div(n, 2 * w) >= a.depth_first_min_images ? 2 : 1;
  c.n = std::min(a.depth_first_max_images, ceil_div(n, per_worker * w));
  // One worker: blocks only for the caches, which pay only where no stage fuses (the activations
  // between fused stages are small).
  const bool fuses = any_stage(model, in, 1, Strategy(), Pass::inference,
                               [](std::size_t first, std::size_t next, const kernels::PostOps&, const Shape&) {
                                 return next > first + 1;
                               });
  if (w == 1 && c.n < n && fuses) return Cut::whole(work.space);
  return c;
}
}  // namespace detail

// How an inference pass cuts the batch into depth-first blocks: each block runs through every layer in
// one task (the layers sequentially inside it), so a call costs one fork-join instead of one per
// layer, and a block's activations stay in cache from one layer to the next. The whole batch as one
// block means layer by layer, each stage cut by the strategy.
//  - Batch: its cut of the batch; Fixed: its cut's images (a model run as one stage of another);
//  - Auto: depth-first when every worker gets an image and the model is worth a fork-join, one block
//    per worker (two when each keeps `Auto::depth_first_min_images`) of at most
//    `Auto::depth_first_max_images`; one worker gets blocks too once the batch exceeds that cap, for
//    the caches, unless the model fuses post-ops;
//  - Tuned: the measured choice for this model, input and worker count (tune() records it under the
//    model's workload), else as its fallback;
//  - every other strategy cuts inside images: layer by layer.
template <class Model>
Cut depth_first_cut(const Model& model, const Shape& in, const Strategy& strategy, std::size_t workers) {
  const Workload work = model.workload(in);  // its space is the batch
  const Cut whole = Cut::whole(work.space);
  if (model.size() < 2 || work.space.n < 2) return whole;
  if (const auto* batch = std::get_if<strategy::Batch>(&strategy.value())) return batch->cut(work, workers);
  if (const auto* fixed = std::get_if<strategy::Fixed>(&strategy.value())) {
    Cut c = whole;
    c.n = std::max<std::size_t>(1, fixed->cut_of_plan.n);
    return c;
  }
  if (const auto* t = std::get_if<strategy::Tuned>(&strategy.value())) {
    if (const auto* e = t->find(work, workers)) return e->cut;
    return detail::auto_depth_first_cut(model, in, work, t->fallback, workers);
  }
  if (const auto* a = std::get_if<strategy::Auto>(&strategy.value()))
    return detail::auto_depth_first_cut(model, in, work, *a, workers);
  return whole;
}

// The workers a layer-by-layer pass keeps in a team: all of them when two stages or more are cut into
// several blocks, else 1. A team costs about one fork-join to gather and saves one on every cut stage:
// with a single cut stage it only adds its hand-off.
template <class Model>
std::size_t team_size(const Model& model, const Shape& in, const Strategy& strategy, Pass pass, std::size_t workers) {
  if (workers <= 1) return 1;
  std::size_t cut_stages = 0;
  const bool two = any_stage(model, in, workers, strategy, pass,
                             [&](std::size_t first, std::size_t, const kernels::PostOps& e, const Shape& x) {
                               const Workload w = model[first].fused_workload(x, e);
                               cut_stages += BlockGrid(w.space, strategy.cut(w, workers)).count() > 1;
                               return cut_stages >= 2;
                             });
  return two ? workers : 1;
}

// The strategy each stage of a layer-by-layer pass cuts by: Auto where a team keeps the workers decides
// as in a team (Auto::in_team), any other strategy as given.
inline Strategy pass_strategy(const Strategy& strategy, std::size_t team, const ExecutorProfile& profile) {
  const auto* a = std::get_if<strategy::Auto>(&strategy.value());
  if (a && team > 1 && profile.team) return a->in_team();
  return strategy;
}

// The plan of `pass` for `model` on input shape `in` under `strategy`, for an executor of `profile`.
// Throws ShapeError naming the first layer that cannot take its input.
template <class Model>
Plan make_plan(const Model& model, const Shape& in, const Strategy& strategy, Pass pass,
               const ExecutorProfile& profile) {
  Plan plan;
  plan.pass = pass;
  plan.input = in;
  plan.profile = profile;
  plan.strategy = strategy.name();
  plan.layer_outputs = model.shapes(in);  // every layer checked
  plan.output = plan.layer_outputs.empty() ? in : plan.layer_outputs.back();
  for (std::size_t i = 0; i < model.size(); ++i) {
    plan.layer_names.push_back(model.layer_name(i));
    plan.layer_kinds.push_back(model[i].name());
  }
  const std::size_t workers = profile.workers;
  const Strategy decides = for_profile(strategy, profile);
  plan.batch_blocks = Cut::whole(IndexSpace{plan.batch()});
  if (model.size() == 0) return plan;
  if (const auto* t = std::get_if<strategy::Tuned>(&strategy.value()))
    if (const auto* e = t->find(model.workload(in), workers))  // the model's entry (see tune())
      plan.note = "whole model, measured: " + strategy::Tuned::timings_text(*e);

  if (pass == Pass::inference) {
    const Cut df = depth_first_cut(model, in, decides, workers);
    if (df.n < plan.batch()) plan.batch_blocks.n = df.n;
  }
  // Inside a depth-first block: one worker, every stage whole.
  const std::size_t stage_workers = plan.depth_first() ? 1 : workers;
  if (!plan.depth_first()) plan.team = team_size(model, in, decides, pass, workers);
  const Strategy cuts = plan.depth_first() ? Strategy(strategy::Serial{}) : pass_strategy(decides, plan.team, profile);
  any_stage(model, in, stage_workers, cuts, pass,
            [&](std::size_t first, std::size_t next, const kernels::PostOps& e, const Shape& x) {
              PlanStage st = detail::stage_of(model, first, next, e, x);
              if (plan.depth_first()) {
                st.strategy = "serial";
                st.cut = Cut::whole(st.work.space);
                st.reason = "inside a depth-first block";
              } else {
                const strategy::AutoChoice c = cuts.explain(st.work, workers);
                st.strategy = c.strategy;
                st.cut = BlockGrid(st.work.space, c.cut).cut();
                st.reason = c.reason;
              }
              st.blocks = BlockGrid(st.work.space, st.cut).count();
              // The kernel path of a depth-first block's first (largest) block.
              const Shape layer_in = plan.depth_first() ? x.with_batch(plan.batch_blocks.n) : x;
              st.algorithm = model[first].algorithm(layer_in, e, st.cut, workers);
              plan.stages.push_back(std::move(st));
              return false;
            });
  if (pass == Pass::for_backward) {
    Shape x = in;
    for (std::size_t i = 0; i < model.size();) {
      BackwardStage st;
      st.first = i;
      st.next = backward_stage(model, i, x, st.post_ops);
      plan.backward.push_back(st);
      x = plan.layer_outputs[st.next - 1];
      i = st.next;
    }
  }
  return plan;
}

// ConfigError naming the first thing in `plan` that does not fit `model`: its layers (by name), every
// layer's output shape for the plan's input, the stages (contiguous over every layer; each stage's
// post-ops those its layers make and its first layer accepts; shapes, cuts, blocks), the depth-first
// blocks and the team, and for a forward for backward the backward stages. What a plan read from a
// file (io/plan_file.hpp) must pass before it runs: a plan that runs is one make_plan could have made,
// whatever its cuts, so it gives the bits of every other plan.
template <class Model>
void check_plan(const Model& model, const Plan& plan) {
  auto bad = [](const std::string& why) { return ConfigError("plan: " + why); };
  if (plan.layer_names.size() != model.size() || plan.layer_kinds.size() != model.size() ||
      plan.layer_outputs.size() != model.size())
    throw bad("it lists " + std::to_string(plan.layer_names.size()) + " layers, the model has " +
              std::to_string(model.size()));
  for (std::size_t i = 0; i < model.size(); ++i)
    if (plan.layer_names[i] != model.layer_name(i))
      throw bad("layer " + std::to_string(i) + " is '" + plan.layer_names[i] + "' in the plan, '" +
                model.layer_name(i) + "' in the model");
  std::vector<Shape> shapes;
  try {
    shapes = model.shapes(plan.input);
  } catch (const ShapeError& e) {
    throw bad(std::string("its input does not fit the model: ") + e.what());
  }
  for (std::size_t i = 0; i < model.size(); ++i)
    if (shapes[i] != plan.layer_outputs[i])
      throw bad("layer '" + model.layer_name(i) + "' outputs " + shapes[i].str() + ", the plan says " +
                plan.layer_outputs[i].str());
  if (plan.output != (shapes.empty() ? plan.input : shapes.back())) throw bad("its output shape is not the model's");
  if (plan.profile.workers == 0 || plan.team == 0 || plan.team > plan.profile.workers)
    throw bad("a team of " + std::to_string(plan.team) + " for " + std::to_string(plan.profile.workers) + " worker(s)");
  if (plan.batch_blocks.n == 0) throw bad("depth-first blocks of 0 images");
  if (plan.depth_first() && (plan.pass != Pass::inference || plan.team != 1))
    throw bad("depth-first blocks are for inference, without a team");
  auto cut_ok = [](const Cut& c) { return c.n > 0 && c.c > 0 && c.h > 0 && c.w > 0; };
  // The post-ops the layers [first + 1, next) make after layer `first` on input `in`, or why not.
  auto post_ops_of = [&](std::size_t first, std::size_t next, const Shape& in, kernels::PostOps& e) -> bool {
    e = kernels::PostOps{};
    Shape s = model[first].output_shape(in);
    for (std::size_t k = first + 1; k < next; ++k) {
      if (!append_post_op(model, k, s, e)) return false;
      s = model[k].output_shape(s);
    }
    return true;
  };
  std::size_t i = 0;
  Shape x = plan.input;
  for (const PlanStage& st : plan.stages) {
    const std::string where = "the stage at layer " + std::to_string(st.first);
    if (st.first != i || st.next <= st.first || st.next > model.size())
      throw bad(where + " covers layers [" + std::to_string(st.first) + ", " + std::to_string(st.next) +
                "); the stages must cover every layer in order");
    kernels::PostOps e;
    if (!post_ops_of(st.first, st.next, x, e) || e != st.post_ops)
      throw bad(where + ": the layers it covers do not make the post-ops " + st.post_ops.str());
    const auto& head = model[st.first];
    const bool accepts = st.next == st.first + 1 || head.accepts(x, e, plan.pass);
    if (!accepts) throw bad(where + ": '" + model.layer_name(st.first) + "' cannot run " + e.str() + " on its output");
    const Shape out = head.fused_output_shape(x, e);
    if (st.in != x || st.out != out)
      throw bad(where + ": shapes " + st.in.str() + " -> " + st.out.str() + ", the model's " + x.str() + " -> " +
                out.str());
    if (!cut_ok(st.cut)) throw bad(where + ": a cut with an extent of 0");
    const Workload work = head.fused_workload(x, e);
    if (st.blocks != BlockGrid(work.space, st.cut).count())
      throw bad(where + ": " + std::to_string(st.blocks) + " blocks, its cut makes " +
                std::to_string(BlockGrid(work.space, st.cut).count()));
    x = out;
    i = st.next;
  }
  if (i != model.size()) throw bad("the stages end at layer " + std::to_string(i) + " of " + std::to_string(model.size()));
  if (plan.pass == Pass::inference) {
    if (!plan.backward.empty()) throw bad("a forward plan with backward stages");
    return;
  }
  i = 0;
  x = plan.input;
  std::size_t forward = 0;  // the forward stage at layer i, when one starts there
  for (const BackwardStage& st : plan.backward) {
    const std::string where = "the backward stage at layer " + std::to_string(st.first);
    if (st.first != i || st.next <= st.first || st.next > model.size())
      throw bad(where + " does not follow the one before it");
    kernels::PostOps e;
    if (!post_ops_of(st.first, st.next, x, e) || e != st.post_ops ||
        (st.next > st.first + 1 && !model[st.first].accepts(x, e, Pass::for_backward)))
      throw bad(where + ": '" + model.layer_name(st.first) + "' cannot run its backward through " + st.post_ops.str());
    while (forward < plan.stages.size() && plan.stages[forward].first < st.first) ++forward;
    const bool forward_fused = forward < plan.stages.size() && plan.stages[forward].first == st.first &&
                               plan.stages[forward].next > st.first + 1;
    if (forward_fused && plan.stages[forward].next != st.next)
      throw bad(where + ": the forward fuses what its backward does not read");
    x = shapes[st.next - 1];
    i = st.next;
  }
  for (const PlanStage& st : plan.stages) {  // a fused forward stage keeps only what a fused backward reads
    bool matched = st.next == st.first + 1;
    for (const BackwardStage& b : plan.backward) matched = matched || (b.first == st.first && b.next == st.next);
    if (!matched) throw bad("the forward stage at layer " + std::to_string(st.first) + " has no backward stage that reads it");
  }
  if (i != model.size()) throw bad("the backward stages end at layer " + std::to_string(i));
}

}  // namespace parcnn::planner
