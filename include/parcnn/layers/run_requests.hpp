// parcnn/layers/run_requests.hpp — run_requests: many requests of different sizes through one model,
// each whole on one worker, scheduled over the workers by size.
//
// A server's requests differ in batch size and, for a fully convolutional model, in image size: their
// costs may spread over two orders of magnitude. Cutting each request over all workers pays the
// fork-join per layer for every small one; running each whole on one worker (sequentially inside)
// keeps every worker busy without synchronisation, if the requests are spread well. run_requests
// estimates each request from the plan's one-core estimates (planner::stages, strategy::Auto's
// estimated_ns) and runs them longest first, each taken by the next free worker (parallel/schedule.hpp),
// or in the order given under oneTBB's work stealing. Outputs are the bits of model.forward.
//
//   std::vector<Workspace<float>> ws;
//   ScheduleTrace t = executor.run([&] { return run_requests(model, inputs, outputs, ws); });
//   t.makespan_us / t.lower_bound_us();   // how far from the best any schedule could do
#pragma once

#include <string>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/core/tensor_view.hpp"
#include "parcnn/core/workspace.hpp"
#include "parcnn/layers/sequential.hpp"
#include "parcnn/parallel/auto.hpp"
#include "parcnn/parallel/executor_profile.hpp"
#include "parcnn/parallel/schedule.hpp"
#include "parcnn/parallel/serial.hpp"
#include "parcnn/plan/make_plan.hpp"

namespace parcnn {

// A request's estimated time on one core: the sum of its plan stages' estimates.
template <class T>
double estimated_request_ns(const Sequential<T>& model, const Shape& in) {
  double ns = 0;
  for (const PlanStage& st : planner::stages(model, in, 1)) ns += strategy::Auto{}.estimated_ns(st.work);
  return ns;
}

// outputs[i] = model's forward of inputs[i], every request on one worker of the calling scope, in the
// order `schedule` gives; `ws` holds a workspace per worker (resized here; keep it for the next call).
// Every input's shape is checked against its output before anything runs.
template <class T>
ScheduleTrace run_requests(const Sequential<T>& model, const std::vector<TensorView<const T>>& inputs,
                           const std::vector<TensorView<T>>& outputs, std::vector<Workspace<T>>& ws,
                           Schedule schedule = Schedule::longest_first) {
  if (inputs.size() != outputs.size())
    throw ConfigError("run_requests: " + std::to_string(inputs.size()) + " inputs and " + std::to_string(outputs.size()) +
                      " outputs");
  std::vector<double> cost(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Shape expected = model.output_shape(inputs[i].shape());
    if (expected != outputs[i].shape())
      throw ShapeError("run_requests: output " + std::to_string(i) + " is " + outputs[i].shape().str() + ", the model gives " +
                       expected.str() + " for input " + inputs[i].shape().str());
    cost[i] = estimated_request_ns(model, inputs[i].shape());
  }
  if (ws.size() < current_workers()) ws.resize(current_workers());
  return run_tasks(cost, schedule, [&](std::size_t i, std::size_t worker) {
    model.forward(inputs[i], outputs[i], strategy::Serial{}, ws[worker]);
  });
}

}  // namespace parcnn
