// parcnn/layers/tune.hpp — tune(): measures, on this machine, which cut runs each layer of a model
// fastest for one input shape and thread count, and returns the plan as a strategy::Tuned.
//
//   strategy::Tuned plan = with_threads(2, [&] { return tune(model, Shape{64, 1, 28, 28}); });
//   plan = with_threads(2, [&] { return tune(model, Shape{1, 1, 28, 28}, plan); });  // adds batch 1
//   model.forward(x, plan, ws);                 // inside a 2-thread scope
//   std::puts(model.plan(x.shape(), plan).describe().c_str());   // the plan with every candidate's time
//
// For every layer the candidates are Auto's choice and the cuts of sequential, batch, channel, spatial
// and tiled (one of each distinct cut), timed in turn on the layer's real input (the previous layer's
// output), median of `repeats` rounds; a layer that runs with post-ops in the model's forward
// (planner::forward_stage) is measured with it. For a Sequential model, then the whole model end to end: layer
// by layer with each layer's measured cut, with one strategy in every layer, and depth-first blocks of
// several sizes; the fastest sets the layers' entries and the model's. Auto's choice is kept
// unless another candidate beats it by `min_gain`, so noise alone does not change a plan. Every cut
// gives the same bits, so a tuned plan changes speed, never results. Workloads already in the plan are
// not measured again: the plan is the cache.
//
// Training's backward passes are not tuned: their workloads are not in the plan and fall back to Auto.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "parcnn/core/random.hpp"
#include "parcnn/core/tensor.hpp"
#include "parcnn/core/workspace.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/layers/sequential.hpp"
#include "parcnn/parallel/strategy.hpp"
#include "parcnn/parallel/executor.hpp"

namespace parcnn {

struct TuneOptions {
  std::size_t repeats = 9;        // timed rounds per candidate; the median counts
  double min_gain = 0.03;         // how much faster than Auto's choice a candidate must be to replace it
  double min_sample_us = 200;     // a timed sample repeats the call until it lasts about this long
};

namespace detail {

inline bool same_cut(const Cut& a, const Cut& b) { return a.n == b.n && a.c == b.c && a.h == b.h && a.w == b.w; }

// Times every candidate (callables running one forward pass), interleaved round by round so drift in
// the machine's speed affects all alike; returns the median microseconds per call of each.
template <class Run>
std::vector<double> median_times(const std::vector<Run>& candidates, const TuneOptions& opt) {
  using clock = std::chrono::steady_clock;
  const std::size_t k = candidates.size();
  std::vector<std::size_t> calls(k, 1);
  for (std::size_t i = 0; i < k; ++i) {  // warm-up: sizes workspaces, and sets calls per sample
    candidates[i]();
    const auto t0 = clock::now();
    candidates[i]();
    const double us = std::chrono::duration<double, std::micro>(clock::now() - t0).count();
    calls[i] = std::clamp<std::size_t>(static_cast<std::size_t>(opt.min_sample_us / std::max(us, 0.01)), 1, 1000);
  }
  std::vector<std::vector<double>> samples(k);
  for (std::size_t r = 0; r < std::max<std::size_t>(opt.repeats, 1); ++r)
    for (std::size_t i = 0; i < k; ++i) {
      const auto t0 = clock::now();
      for (std::size_t c = 0; c < calls[i]; ++c) candidates[i]();
      samples[i].push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count() / double(calls[i]));
    }
  std::vector<double> medians;
  for (auto& s : samples) {
    std::nth_element(s.begin(), s.begin() + s.size() / 2, s.end());
    medians.push_back(s[s.size() / 2]);
  }
  return medians;
}

// Picks the fastest candidate, keeping the first (Auto's choice) unless another beats it by min_gain;
// returns the entry with every timing, fastest first.
inline strategy::Tuned::Entry pick(const Workload& work, std::size_t workers, const std::vector<std::string>& names,
                                   const std::vector<Cut>& cuts, const std::vector<double>& us, double min_gain) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < us.size(); ++i)
    if (us[i] < us[best]) best = i;
  if (us[0] <= us[best] * (1 + min_gain)) best = 0;
  strategy::Tuned::Entry e{work, workers, names[best], cuts[best], {}, {}};
  for (std::size_t i = 0; i < us.size(); ++i) e.timings.push_back({names[i], us[i]});
  std::stable_sort(e.timings.begin(), e.timings.end(),
                   [](const auto& a, const auto& b) { return a.microseconds < b.microseconds; });
  return e;
}

// Measures one layer with post-ops `e` (a stage of a model's forward; none for a layer alone) on input
// `x`, unless the plan has its workload, and adds the entry.
template <class T>
strategy::Tuned tune_layer(const Layer<T>& layer, const kernels::PostOps& e, TensorView<const T> x,
                           strategy::Tuned plan, std::size_t workers, const TuneOptions& opt) {
  const Workload work = layer.fused_workload(x.shape(), e);
  if (plan.find(work, workers)) return plan;
  if (workers <= 1) return plan.with({work, workers, "serial", Cut::whole(work.space), {}});
  std::vector<std::string> names;
  std::vector<Cut> cuts;
  auto add = [&](const std::string& name, const Cut& cut) {
    for (const Cut& c : cuts)
      if (same_cut(c, cut)) return;
    names.push_back(name);
    cuts.push_back(cut);
  };
  const strategy::AutoChoice auto_choice = plan.fallback.choose(work, workers);
  add(auto_choice.strategy, auto_choice.cut);  // first: kept unless clearly beaten
  for (const Strategy& s : {Strategy(strategy::Serial{}), Strategy(strategy::Batch{}), Strategy(strategy::Channel{}),
                            Strategy(strategy::Spatial{}), Strategy(strategy::Tiled{})})
    add(s.name(), s.cut(work, workers));
  if (cuts.size() == 1) return plan.with({work, workers, names[0], cuts[0], {}});

  Tensor<T> y(layer.fused_output_shape(x.shape(), e));
  std::vector<Workspace<T>> ws(cuts.size());
  std::vector<strategy::Tuned> fixed;  // each candidate as a one-entry plan: exactly its cut
  for (std::size_t i = 0; i < cuts.size(); ++i) fixed.push_back(strategy::Tuned{}.with({work, workers, names[i], cuts[i], {}}));
  std::vector<std::function<void()>> runs;
  for (std::size_t i = 0; i < cuts.size(); ++i)
    runs.emplace_back([&, i] { layer.forward_fused(x, y.view(), e, fixed[i], ws[i]); });
  return plan.with(pick(work, workers, names, cuts, median_times(runs, opt), opt.min_gain));
}

}  // namespace detail

// Measures the layer (for a Sequential model: every layer, then the model as a whole) on input shape
// `in` with the calling scope's workers, and returns `plan` with the measured choices added.
template <class T>
strategy::Tuned tune(const Layer<T>& layer, const Shape& in, strategy::Tuned plan = {}, const TuneOptions& opt = {}) {
  const std::size_t workers = current_workers();
  Tensor<T> x(in);
  fill_uniform<T>(x.view(), 0.0, 1.0, 1);
  const auto* model = dynamic_cast<const Sequential<T>*>(&layer);
  if (!model || model->size() == 0)
    return detail::tune_layer(layer, kernels::PostOps{}, TensorView<const T>(x.view()), std::move(plan), workers, opt);

  // Every stage of the model's forward (a layer with the post-ops it runs) on its real input.
  const auto stages = planner::stages(*model, in, workers);
  Tensor<T> a(x.view());
  for (const auto& st : stages) {
    const Layer<T>& head = (*model)[st.first];
    plan = detail::tune_layer(head, st.post_ops, TensorView<const T>(a.view()), std::move(plan), workers, opt);
    Tensor<T> b(head.fused_output_shape(a.shape(), st.post_ops));
    Workspace<T> ws;
    head.forward_fused(a.view(), b.view(), st.post_ops, strategy::Serial{}, ws);
    a = std::move(b);
  }

  // The model as a whole, timed end to end: a layer measured alone, on hot caches, does not see what
  // its neighbours cost it (where the previous layer left its output, which core's cache holds it), so
  // the per-layer choices compete with one strategy in every layer, and with depth-first blocks. The
  // choice is recorded under the model's workload, where planner::depth_first_cut looks.
  const Workload work = model->workload(in);
  const std::size_t n = work.space.n;
  if ((workers <= 1 && n < 2) || plan.find(work, workers)) return plan;  // one image, one worker: nothing to choose
  struct Candidate {
    std::string name;
    strategy::Tuned layers;  // the per-layer entries it runs with
    Cut cut;                 // the model's cut: whole = layer by layer, else depth-first blocks
  };
  std::vector<Candidate> candidates;
  const strategy::Tuned per_layer = plan;
  auto model_cut_name = [&](const Cut& c) {
    return c.n >= n ? std::string("layer-by-layer") : "depth-first:" + std::to_string(c.n);
  };
  // One strategy in every layer, keeping the layers' measurements for describe().
  auto everywhere = [&](const std::string& name, const auto& choose) {
    strategy::Tuned layers = per_layer;
    for (const auto& st : stages) {
      strategy::Tuned::Entry e = *per_layer.find(st.work, workers);
      const strategy::AutoChoice c = choose(st.work);
      e.strategy = c.strategy;
      e.cut = c.cut;
      e.note = "the whole model ran fastest with " + name + " in every layer";
      layers = layers.with(std::move(e));
    }
    return layers;
  };
  {  // first, Auto as it runs untuned: kept unless clearly beaten
    const strategy::Tuned layers =
        everywhere("auto", [&](const Workload& w) { return per_layer.fallback.choose(w, workers); });
    const Cut c = planner::depth_first_cut(*model, in, per_layer.fallback, workers);
    candidates.push_back({c.n >= n ? "auto in every layer" : model_cut_name(c), layers, c});
  }
  // A candidate that makes exactly the cuts of an earlier one (with one worker, every strategy cuts
  // nothing) is not timed again: noise alone would pick between the two names.
  auto add = [&](Candidate c) {
    for (const Candidate& other : candidates) {
      bool same = detail::same_cut(other.cut, c.cut);
      for (const auto& st : stages)
        same = same && detail::same_cut(other.layers.find(st.work, workers)->cut, c.layers.find(st.work, workers)->cut);
      if (same) return;
    }
    candidates.push_back(std::move(c));
  };
  add({"layer-by-layer, tuned per layer", per_layer, Cut::whole(work.space)});
  for (const Strategy& s : {Strategy(strategy::Serial{}), Strategy(strategy::Batch{}), Strategy(strategy::Channel{}),
                            Strategy(strategy::Spatial{})}) {
    const strategy::Tuned layers =
        everywhere(s.name(), [&](const Workload& w) { return strategy::AutoChoice{s.name(), s.cut(w, workers), ""}; });
    add({s.name() + " in every layer", layers, Cut::whole(work.space)});
  }
  for (std::size_t per_worker : {1, 2, 4}) {
    Cut c = Cut::whole(work.space);
    c.n = std::max<std::size_t>(1, (n + workers * per_worker - 1) / (workers * per_worker));
    if (c.n < n && c.n != candidates[0].cut.n) add({model_cut_name(c), per_layer, c});
  }

  std::vector<std::string> names;
  std::vector<Cut> cuts;
  std::vector<strategy::Tuned> runs_with;
  for (const Candidate& c : candidates) {
    names.push_back(c.name);
    cuts.push_back(c.cut);
    runs_with.push_back(c.layers.with({work, workers, c.name, c.cut, {}}));
  }
  std::vector<Workspace<T>> ws(candidates.size());
  Tensor<T> y(model->output_shape(in));
  std::vector<std::function<void()>> runs;
  for (std::size_t i = 0; i < candidates.size(); ++i)
    runs.emplace_back([&, i] { model->forward(x.view(), y.view(), runs_with[i], ws[i]); });
  strategy::Tuned::Entry chosen = detail::pick(work, workers, names, cuts, detail::median_times(runs, opt), opt.min_gain);
  for (std::size_t i = 0; i < candidates.size(); ++i)
    if (candidates[i].name == chosen.strategy) return candidates[i].layers.with(std::move(chosen));
  return plan;  // not reached: the chosen entry is one of the candidates
}

// A plan of `model`'s forward on input shape `in` for `executor` whose choices were measured: tune() on
// the executor's workers, then the plan made from what it measured (each measured stage says so in
// describe()). io::save_plan keeps it, so that a deployment starts tuned.
template <class T>
Plan tune_plan(const Sequential<T>& model, const Shape& in, Executor& executor, const TuneOptions& opt = {}) {
  const strategy::Tuned measured = executor.run([&] { return tune(model, in, {}, opt); });
  return model.plan(in, measured, executor);
}

}  // namespace parcnn
