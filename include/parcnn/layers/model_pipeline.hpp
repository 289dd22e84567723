// parcnn/layers/model_pipeline.hpp — ModelPipeline: a model cut into stages, each on its own workers,
// micro-batches flowing through.
//
// Pipeline (model) parallelism: stage s holds layers [first, next) of the model (a copy,
// Sequential::slice) and runs on an executor of its own; micro-batches go through the stages in order
// with at most `in_flight` of them between the first stage and the last (parallel/pipeline.hpp,
// oneTBB's parallel_pipeline). While stage 1 works on micro-batch i, stage 0 works on i + 1: each
// stage's weights stay in its own core's cache, and a stream of small requests keeps every core busy
// where a single request has too little work to cut. Outputs are bitwise those of the model's plain
// forward, in order. It pays only when the stages take about the same time (balanced_cuts) and the
// stream is long: S stages over M micro-batches idle (S − 1)/(M + S − 1) of the time filling and
// draining (PipelineTrace::bubble), and a stage waits on the slowest between micro-batches.
//
//   parcnn::ModelPipeline<float> pipe(model, parcnn::ModelPipeline<float>::balanced_cuts(model, {1, 1, 28, 28}, 2));
//   parcnn::Tensor<float> y = pipe.forward(x, 1);   // x [N, 1, 28, 28] as N micro-batches of one image
//   pipe.trace().bubble();                         // what the last run lost to filling and draining
#pragma once

#include <algorithm>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/core/random.hpp"
#include "parcnn/core/range.hpp"
#include "parcnn/core/tensor.hpp"
#include "parcnn/core/workspace.hpp"
#include "parcnn/layers/sequential.hpp"
#include "parcnn/layers/tune.hpp"
#include "parcnn/parallel/auto.hpp"
#include "parcnn/parallel/executor.hpp"
#include "parcnn/parallel/pipeline.hpp"
#include "parcnn/parallel/strategy.hpp"
#include "parcnn/plan/make_plan.hpp"
#include "parcnn/plan/plan.hpp"

namespace parcnn {

struct ModelPipelineOptions {
  std::vector<std::size_t> workers;  // per stage (empty: one each); their sum is best the cores there are
  std::size_t in_flight = 0;         // micro-batches between the first stage and the last (0: two per stage)
  Strategy strategy;                 // how each stage cuts its layers over its workers
};

template <class T>
class ModelPipeline {
 public:
  // `model` cut before each layer index in `cuts` (ascending, each in [1, model.size())): cuts.size() + 1
  // stages. The stages hold copies: later changes to `model` do not reach them.
  ModelPipeline(const Sequential<T>& model, std::vector<std::size_t> cuts, ModelPipelineOptions options = {})
      : options_(std::move(options)) {
    if (model.size() == 0) throw ConfigError("ModelPipeline: the model has no layers");
    std::size_t first = 0;
    cuts.push_back(model.size());
    for (std::size_t next : cuts) {
      if (next <= first || next > model.size())
        throw ConfigError("ModelPipeline: cut at layer " + std::to_string(next) + " after one at " + std::to_string(first) +
                          " in a model of " + std::to_string(model.size()) + " layers: cuts must rise within [1, " +
                          std::to_string(model.size()) + ")");
      layers_.push_back(Range{first, next});
      stages_.push_back(model.slice(first, next));
      first = next;
    }
    const std::size_t S = stages_.size();
    if (options_.workers.empty()) options_.workers.assign(S, 1);
    if (options_.workers.size() != S)
      throw ConfigError("ModelPipeline: " + std::to_string(options_.workers.size()) + " worker counts for " +
                        std::to_string(S) + " stages");
    if (options_.in_flight == 0) options_.in_flight = 2 * S;
    for (std::size_t w : options_.workers) executors_.push_back(std::make_unique<Executor>(w));
    ws_.resize(S);
  }

  // The cuts into `stages` stages whose one-core estimates (strategy::Auto's, for input shape `in`)
  // are as even as contiguous runs of layers allow: the largest stage as small as it can be. A cut
  // falls only between the plan's stages (planner::stages), never between a layer and the post-ops it
  // runs on its output, which would cost a pass over memory.
  static std::vector<std::size_t> balanced_cuts(const Sequential<T>& model, const Shape& in, std::size_t stages) {
    const std::vector<PlanStage> units = plan_units(model, in, stages);
    std::vector<double> cost;
    for (const PlanStage& u : units) cost.push_back(strategy::Auto{}.estimated_ns(u.work));
    return even_cuts(units, cost, stages);
  }

  // balanced_cuts from each plan stage's time measured on one worker (seeded input values of shape
  // `in`; medians of opt.repeats rounds, interleaved) instead of the estimates: what this machine does,
  // caches and memory included.
  static std::vector<std::size_t> measured_cuts(const Sequential<T>& model, const Shape& in, std::size_t stages,
                                                const TuneOptions& opt = {}) {
    const std::vector<PlanStage> units = plan_units(model, in, stages);
    std::vector<Tensor<T>> x{Tensor<T>(in)};
    fill_uniform<T>(x[0].view(), 0.0, 1.0, 1);
    std::vector<Workspace<T>> ws(units.size());
    std::vector<std::function<void()>> runs;
    for (std::size_t u = 0; u < units.size(); ++u) {
      const Layer<T>& head = model[units[u].first];
      x.emplace_back(head.fused_output_shape(x[u].shape(), units[u].post_ops));
      runs.emplace_back([&, u, &head = head] {
        head.forward_fused(x[u].view(), x[u + 1].view(), units[u].post_ops, strategy::Serial{}, ws[u]);
      });
      runs.back()();  // the next unit's input
    }
    Executor one(1);
    return even_cuts(units, one.run([&] { return detail::median_times(runs, opt); }), stages);
  }

  std::size_t stages() const { return stages_.size(); }
  const Sequential<T>& stage(std::size_t s) const { return stages_.at(s); }
  Range stage_layers(std::size_t s) const { return layers_.at(s); }  // in the model's numbering
  Executor& executor(std::size_t s) { return *executors_.at(s); }
  const ModelPipelineOptions& options() const { return options_; }

  // outputs[i] = the model's forward of inputs[i] (the same bits), each input a micro-batch of any
  // shape the model takes; every shape is checked before anything runs. outputs[i] must have the
  // model's output shape for inputs[i] and overlap no input.
  void run(const std::vector<TensorView<const T>>& inputs, const std::vector<TensorView<T>>& outputs) {
    if (inputs.size() != outputs.size())
      throw ConfigError("ModelPipeline::run: " + std::to_string(inputs.size()) + " inputs and " +
                        std::to_string(outputs.size()) + " outputs");
    const std::size_t S = stages_.size(), F = options_.in_flight;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      Shape x = inputs[i].shape();
      for (const Sequential<T>& st : stages_) x = st.output_shape(x);
      if (x != outputs[i].shape())
        throw ShapeError("ModelPipeline::run: output " + std::to_string(i) + " is " + outputs[i].shape().str() +
                         ", the model gives " + x.str() + " for input " + inputs[i].shape().str());
    }
    between_.resize(F);
    for (auto& slot : between_) slot.resize(S - 1);  // slot's output of every stage but the last
    std::vector<Executor*> executors;
    for (auto& e : executors_) executors.push_back(e.get());
    trace_ = run_pipeline(executors, inputs.size(), F, [&](std::size_t s, std::size_t i, std::size_t slot) {
      const TensorView<const T> in = s == 0 ? inputs[i] : TensorView<const T>(between_[slot][s - 1].view());
      TensorView<T> out = outputs[i];
      if (s + 1 < S) {
        Tensor<T>& t = between_[slot][s];
        const Shape shape = stages_[s].output_shape(in.shape());
        if (t.shape() != shape) t = Tensor<T>(shape);
        out = t.view();
      }
      stages_[s].forward(in, out, options_.strategy, ws_[s]);
    });
  }

  // `batch` as micro-batches of `micro_batch` images (the last may have fewer), their outputs joined:
  // the model's forward of the whole batch, bit for bit — unless a layer couples the images
  // (Layer::couples_images: BatchNorm2d in training mode normalises each micro-batch by its own
  // statistics), when it is the forward of each micro-batch.
  Tensor<T> forward(TensorView<const T> batch, std::size_t micro_batch) {
    if (micro_batch == 0) throw ConfigError("ModelPipeline::forward: a micro-batch needs at least one image");
    if (batch.rank() == 0) throw ShapeError("ModelPipeline::forward: the input has no batch dimension");
    Shape out_shape = batch.shape();
    for (const Sequential<T>& st : stages_) out_shape = st.output_shape(out_shape);
    Tensor<T> y(out_shape);
    std::vector<TensorView<const T>> in;
    std::vector<TensorView<T>> out;
    for (std::size_t n = 0; n < batch.dim(0); n += micro_batch) {
      const std::size_t e = std::min(batch.dim(0), n + micro_batch);
      in.push_back(batch.batch(n, e));
      out.push_back(y.view().batch(n, e));
    }
    run(in, out);
    return y;
  }

  // When each stage started and ended each micro-batch in the last run.
  const PipelineTrace& trace() const { return trace_; }

  // One line per stage: its layers, workers and one-core estimate for input shape `in`.
  std::string describe(const Shape& in) const {
    std::string text = "pipeline: " + std::to_string(stages_.size()) + " stages, " + std::to_string(options_.in_flight) +
                       " micro-batches in flight, micro-batch " + in.str() + "\n";
    Shape x = in;
    for (std::size_t s = 0; s < stages_.size(); ++s) {
      double ns = 0;
      for (const PlanStage& u : planner::stages(stages_[s], x, 1)) ns += strategy::Auto{}.estimated_ns(u.work);
      x = stages_[s].output_shape(x);
      char estimate[64];
      std::snprintf(estimate, sizeof estimate, "%.1f us/core estimated", ns / 1e3);
      text += "stage " + std::to_string(s) + ": layers " + std::to_string(layers_[s].begin) + "-" +
              std::to_string(layers_[s].end - 1) + " (" + stages_[s].layer_name(0) + " .. " +
              stages_[s].layer_name(stages_[s].size() - 1) + "), " + std::to_string(options_.workers[s]) +
              " worker(s), " + estimate + "\n";
    }
    return text;
  }

 private:
  static std::vector<PlanStage> plan_units(const Sequential<T>& model, const Shape& in, std::size_t stages) {
    if (model.size() == 0) throw ConfigError("ModelPipeline: the model has no layers");
    std::vector<PlanStage> units = planner::stages(model, in, 1);
    if (stages == 0 || stages > units.size())
      throw ConfigError("ModelPipeline: " + std::to_string(stages) + " stages for a model whose plan has " +
                        std::to_string(units.size()) + " (a layer with its post-ops is one)");
    return units;
  }

  // The cuts between `units` into `stages` runs whose largest total `cost` is least (dynamic programming
  // over where each run begins).
  static std::vector<std::size_t> even_cuts(const std::vector<PlanStage>& units, const std::vector<double>& cost,
                                            std::size_t stages) {
    const std::size_t U = units.size();
    std::vector<double> prefix(U + 1, 0);  // cost of units [0, u)
    for (std::size_t u = 0; u < U; ++u) prefix[u + 1] = prefix[u] + cost[u];
    // best[s][u]: the least largest run over units [0, u) in s runs; from[s][u]: where the last began.
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<std::vector<double>> best(stages + 1, std::vector<double>(U + 1, inf));
    std::vector<std::vector<std::size_t>> from(stages + 1, std::vector<std::size_t>(U + 1, 0));
    best[0][0] = 0;
    for (std::size_t s = 1; s <= stages; ++s)
      for (std::size_t u = s; u <= U; ++u)
        for (std::size_t j = s - 1; j < u; ++j) {
          const double worst = std::max(best[s - 1][j], prefix[u] - prefix[j]);
          if (worst < best[s][u]) best[s][u] = worst, from[s][u] = j;
        }
    std::vector<std::size_t> cuts(stages - 1);
    for (std::size_t s = stages, u = U; s > 1; --s) {
      u = from[s][u];
      cuts[s - 2] = units[u].first;
    }
    return cuts;
  }

  ModelPipelineOptions options_;
  std::vector<Range> layers_;
  std::vector<Sequential<T>> stages_;
  std::vector<std::unique_ptr<Executor>> executors_;
  std::vector<Workspace<T>> ws_;                   // one per stage: a stage runs one micro-batch at a time
  std::vector<std::vector<Tensor<T>>> between_;    // per slot, the output of each stage but the last
  PipelineTrace trace_;
};

}  // namespace parcnn
