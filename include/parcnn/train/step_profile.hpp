// parcnn/train/step_profile.hpp — where a training step's time goes.
//
// profile_step runs Trainer::step's work by chunks, as a step does (each chunk on one worker, the
// workers side by side), but one phase at a time with every worker waiting for the others between
// phases, and times each phase: the forward pass of every stage (a layer, or a convolution with the
// pool and element-wise layer it runs in its forward for backward, planner::backward_stage), the loss,
// the backward pass of every stage (a convolution with the pool and element-wise layer its backward
// runs through, Layer::backward_fused), split into the weight gradient (dW: the stage run without an input gradient,
// after one untimed such run so that both timed runs start warm) and the rest (dX: the whole stage less
// dW), the clearing of the gradient chunks, and their reduction with the optimizer's update
// (reduce_and_update). Run apart, phases lose the cache reuse a step has between them (a layer's
// output read by the next while still in cache): their sum exceeds the step. Each phase gets its
// time, its FLOPs (for backward those of the dense formulation: two of the forward's, one for dW and
// one for dX) and its rate against the multiply-add peak of the workers, measured
// (kernels/fma_peak.hpp). Every phase is the median of `rounds` runs; the step itself is timed apart,
// as Trainer::step runs it. The model is trained by every round (each round is a real step).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>


#include "parcnn/core/gradient_chunks.hpp"
#include "parcnn/core/workspace.hpp"
#include "parcnn/kernels/fma_peak.hpp"
#include "parcnn/layers/sequential.hpp"
#include "parcnn/parallel/run.hpp"
#include "parcnn/parallel/executor.hpp"
#include "parcnn/train/loss.hpp"
#include "parcnn/train/optimizer.hpp"
#include "parcnn/train/parameters.hpp"
#include "parcnn/train/trainer.hpp"

namespace parcnn {

struct StepPhase {
  std::string name;  // "forward conv1", "backward conv2 + pool2 + gelu2: dW", "reduce + optimizer", ...
  double us = 0;     // median wall time
  double flops = 0;  // 0 where the phase does no multiply-adds to speak of
};

struct StepProfile {
  std::vector<StepPhase> phases;
  double step_us = 0;          // the median of Trainer::step itself
  double peak_gflops = 0;      // the workers' multiply-add peak, measured: per core × workers
  std::size_t workers = 1, batch = 0, rounds = 0;

  double phases_us() const {
    double sum = 0;
    for (const StepPhase& p : phases) sum += p.us;
    return sum;
  }

  // One line per phase: µs, share of the phases' sum, GFLOP/s and % of the peak; then the totals.
  std::string table() const {
    std::string text;
    char line[256];
    std::snprintf(line, sizeof line, "%-56s %10s %7s %10s %8s\n", "phase", "us", "share", "GFLOP/s", "% peak");
    text += line;
    const double total = phases_us();
    for (const StepPhase& p : phases) {
      const double rate = p.us > 0 ? p.flops / (p.us * 1e3) : 0;
      if (p.flops > 0)
        std::snprintf(line, sizeof line, "%-56s %10.1f %6.1f%% %10.1f %7.1f%%\n", p.name.c_str(), p.us,
                      100 * p.us / total, rate, 100 * rate / peak_gflops);
      else
        std::snprintf(line, sizeof line, "%-56s %10.1f %6.1f%% %10s %8s\n", p.name.c_str(), p.us, 100 * p.us / total,
                      "-", "-");
      text += line;
    }
    std::snprintf(line, sizeof line,
                  "phases %.1f us; the step as Trainer::step runs it %.1f us (%.0f images/s); batch %zu, %zu "
                  "worker(s), peak %.0f GFLOP/s, medians of %zu rounds\n",
                  total, step_us, double(batch) / (step_us * 1e-6), batch, workers, peak_gflops, rounds);
    text += line;
    return text +
           "backward GFLOP/s are of the dense formulation's FLOPs; a stage through a pool does a quarter of "
           "them or less, and may show more than the peak\n";
  }
};

// Profiles `rounds` training steps of `model` (ending in LogSoftmax) on images and labels, by chunks of
// options.chunk_images, with the workers of the calling arena (call inside an executor's scope).
template <class T>
StepProfile profile_step(Sequential<T>& model, Parameters<T>& params, Optimizer<T>& optimizer,
                         TensorView<const T> images, const std::vector<std::size_t>& labels,
                         const TrainerOptions& options = {}, std::size_t rounds = 20) {
  using clock = std::chrono::steady_clock;
  StepProfile profile;
  profile.workers = current_workers();
  profile.batch = images.dim(0);
  profile.rounds = rounds = std::max<std::size_t>(rounds, 1);
  profile.peak_gflops = kernels::fma_peak_gflops<T>() * double(profile.workers);

  Trainer<T> trainer(model, params, optimizer, options);  // checks the model, the parameters and the options
  GradientChunks<T> chunks, probe;                         // probe: where dW alone is written
  const std::vector<Shape> shapes = model.parameter_shapes();
  chunks.plan(shapes, profile.batch, options.chunk_images);
  probe.plan(shapes, profile.batch, options.chunk_images);
  const std::size_t C = chunks.chunks(), L = model.size(), W = profile.workers;

  // Per chunk: its images, every layer's output and input gradient, a workspace per layer.
  struct Chunk {
    TensorView<const T> x;
    std::vector<Tensor<T>> out, grad;
    std::vector<Workspace<T>> ws;
  };
  std::vector<Chunk> state(C);
  for (std::size_t c = 0; c < C; ++c) {
    const Range r = chunks.images(c);
    state[c].x = images.batch(r.begin, r.end);
    for (const Shape& s : model.shapes(state[c].x.shape())) state[c].out.emplace_back(s), state[c].grad.emplace_back(s);
    state[c].ws.resize(L);
  }
  std::vector<std::unique_ptr<Executor>> solo;
  for (std::size_t w = 0; w < W; ++w) solo.push_back(std::make_unique<Executor>(1));

  std::vector<std::vector<double>> times;  // [phase][round]
  std::size_t phase = 0;
  auto record = [&](const std::string& name, double flops, double us) {
    if (phase == profile.phases.size()) profile.phases.push_back({name, 0, flops}), times.emplace_back();
    times[phase++].push_back(us);
  };
  auto time_of = [&](auto&& work) {
    const auto t0 = clock::now();
    work();
    return std::chrono::duration<double, std::micro>(clock::now() - t0).count();
  };
  // f(chunk) for every chunk, each on one worker alone (as Trainer's by-chunks step).
  auto by_chunks = [&](auto&& f) {
    run_blocks(IndexSpace{C}, Cut{1, 1, 1, 1}, [&](const Block& blk, std::size_t worker) {
      solo[worker]->run([&] { f(blk.n.begin); });
    });
  };
  auto input_of = [&](Chunk& ch, std::size_t i) {
    return i == 0 ? ch.x : TensorView<const T>(ch.out[i - 1].view());
  };

  Tensor<T> log_probs(model.output_shape(images.shape())), grad_out(log_probs.shape());
  // Each layer's multiply-add FLOPs over the batch (forward; each of dW and dX in the dense formulation).
  std::vector<double> flops(L, 0.0);
  for (std::size_t i = 0; i < L; ++i)
    for (Chunk& ch : state) flops[i] += model[i].workload(input_of(ch, i).shape()).flops;
  // The stages of a training pass, first to last (planner::backward_stage: the forward for backward
  // fuses what the backward does), named "<prefix> <layer> + <layer>...", with their parameters' offset.
  struct Stage {
    std::size_t first, next, params_before;
    kernels::PostOps e;
    std::string name;
  };
  auto stages_of = [&](const std::string& prefix) {
    std::vector<Stage> out;
    for (std::size_t i = 0, p = 0; i < L;) {
      Stage st{i, 0, p, {}, prefix + " " + model.layer_name(i)};
      st.next = planner::backward_stage(model, i, input_of(state[0], i).shape(), st.e);
      for (std::size_t k = i; k < st.next; ++k) p += model[k].parameter_count();
      for (std::size_t k = i + 1; k < st.next; ++k) st.name += " + " + model.layer_name(k);
      i = st.next;
      out.push_back(std::move(st));
    }
    return out;
  };
  const std::vector<Stage> forward_stages = stages_of("forward"), stages = stages_of("backward");
  std::vector<bool> kept(L, true);  // a fused forward stage keeps no output of its first layer
  for (const Stage& st : forward_stages) kept[st.first] = st.next == st.first + 1;
  for (std::size_t round = 0; round < rounds; ++round) {
    phase = 0;
    for (const Stage& st : forward_stages) {
      const std::size_t i = st.first, last = st.next - 1;
      const Layer<T>& layer = model[i];
      double stage_flops = 0;
      for (std::size_t k = i; k <= last; ++k) stage_flops += flops[k];
      record(st.name, stage_flops, time_of([&] {
               by_chunks([&](std::size_t c) {
                 Chunk& ch = state[c];
                 if (st.next == i + 1) {
                   layer.forward_for_backward(input_of(ch, i), ch.out[i].view(), strategy::Serial{}, ch.ws[i]);
                   return;
                 }
                 if (!st.e.pools()) {  // an element-wise layer: its output is the stage's
                   layer.forward_fused_for_backward(input_of(ch, i), TensorView<T>(), nullptr, ch.out[last].view(),
                                                    st.e, strategy::Serial{}, ch.ws[i]);
                   return;
                 }
                 const TensorView<T> pooled = st.e.has_elementwise() ? ch.out[i + 1].view() : TensorView<T>();
                 std::uint32_t* positions = ch.ws[i + 1].indices(ch.out[last].size());
                 layer.forward_fused_for_backward(input_of(ch, i), pooled, positions, ch.out[last].view(), st.e,
                                                  strategy::Serial{}, ch.ws[i]);
               });
             }));
    }
    record("loss", 0, time_of([&] {
             const std::size_t classes = log_probs.dim(1);
             for (std::size_t c = 0; c < C; ++c)
               std::copy(state[c].out[L - 1].begin(), state[c].out[L - 1].end(),
                         log_probs.data() + chunks.images(c).begin * classes);
             nll_loss(TensorView<const T>(log_probs.view()), labels, grad_out.view());
           }));
    record("clear gradient chunks", 0, time_of([&] { by_chunks([&](std::size_t c) { chunks.zero_chunk(c); }); }));
    for (std::size_t s = stages.size(); s-- > 0;) {  // last to first
      const std::size_t i = stages[s].first, next = stages[s].next;
      const kernels::PostOps& e = stages[s].e;
      const std::string& name = stages[s].name;
      const Layer<T>& layer = model[i];
      auto run = [&](std::size_t c, GradientChunks<T>& into, bool with_dx) {
        Chunk& ch = state[c];
        const TensorView<const T> g =
            next == L ? TensorView<const T>(grad_out.view()).batch(chunks.images(c).begin, chunks.images(c).end)
                      : TensorView<const T>(ch.grad[next - 1].view());
        const TensorView<T> dx = with_dx && i > 0 ? ch.grad[i - 1].view() : TensorView<T>();
        const GradientSlice<T> slice = GradientSlice<T>{&into, stages[s].params_before}.only(c);
        if (next == i + 1) {
          layer.backward(input_of(ch, i), ch.out[i].view(), g, dx, slice, ch.ws[i]);
          return;
        }
        // With the window positions the pool recorded, as Sequential's backward passes them.
        const Workspace<T>& pool_ws = ch.ws[i + 1];
        const std::uint32_t* positions = pool_ws.index_count() == ch.out[i + 1].size() ? pool_ws.indices() : nullptr;
        const TensorView<const T> out = kept[i] ? TensorView<const T>(ch.out[i].view()) : TensorView<const T>();
        layer.backward_fused(input_of(ch, i), out, ch.out[i + 1].view(), g, dx, e, slice, ch.ws[i], positions);
      };
      if (layer.parameter_count() > 0) {
        by_chunks([&](std::size_t c) { run(c, probe, false); });  // untimed: both timed runs start warm
        const double dw_us = time_of([&] { by_chunks([&](std::size_t c) { run(c, probe, false); }); });
        const double all_us = time_of([&] { by_chunks([&](std::size_t c) { run(c, chunks, true); }); });
        record(name + ": dW", flops[i], dw_us);
        if (i > 0) record(name + ": dX (the stage less dW)", flops[i], std::max(0.0, all_us - dw_us));
      } else {
        record(name, 0, time_of([&] { by_chunks([&](std::size_t c) { run(c, chunks, true); }); }));
      }
    }
    record("reduce + optimizer", 0, time_of([&] { reduce_and_update(chunks, params, optimizer); }));
  }
  for (std::size_t p = 0; p < profile.phases.size(); ++p) {
    std::vector<double>& t = times[p];
    std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
    profile.phases[p].us = t[t.size() / 2];
  }
  std::vector<double> steps;
  for (std::size_t round = 0; round < rounds; ++round) {
    const auto t0 = clock::now();
    trainer.step(images, labels);
    steps.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count());
  }
  std::nth_element(steps.begin(), steps.begin() + steps.size() / 2, steps.end());
  profile.step_us = steps[steps.size() / 2];
  return profile;
}

}  // namespace parcnn
