// parcnn/plan/plan.hpp — Plan: how a model runs one input shape on one executor, decided once.
//
// A plan holds, per stage (a layer and the post-ops it runs on its output tile), the layers it covers,
// the cut, the kernel path the layer takes for that cut, the scratch it needs and the reason for the
// choice; for a whole batch run depth-first, the blocks of images; and whether a team keeps the
// workers between stages. make_plan (plan/make_plan.hpp) builds one; Sequential::forward(x, plan, ws)
// only executes it, and forward(x, strategy, ws) builds one on its first call and keeps it in the
// workspace. describe() is the plan printed.
#pragma once

#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "parcnn/core/shape.hpp"
#include "parcnn/kernels/isa.hpp"
#include "parcnn/kernels/post_ops.hpp"
#include "parcnn/parallel/auto.hpp"
#include "parcnn/parallel/executor_profile.hpp"
#include "parcnn/parallel/index_space.hpp"

namespace parcnn {

// Which forward pass a plan is for: inference (fused stages, depth-first blocks where they pay), or
// forward for backward (every activation backward reads kept; layer by layer).
enum class Pass { inference, for_backward };

// The kernel path a layer takes for an input, post-ops, cut and worker count (Layer::algorithm), and
// the scratch it needs, in values of the layer's scalar type.
struct Algorithm {
  std::string name;                    // "im2col + GEMM, columns shared by the channel blocks"; empty: the layer's only one
  std::size_t scratch_per_worker = 0;  // private to each worker that runs a block
  std::size_t shared = 0;              // one buffer for the whole call
};

struct PlanStage {
  std::size_t first = 0, next = 1;  // layers [first, next): the first runs the others as its post-ops
  kernels::PostOps post_ops;
  Shape in, out;   // the stage's input and output for the whole batch
  Workload work;   // what its cut is made of
  std::string strategy;  // the fixed strategy that cut it: "channel", "serial", ...
  Cut cut;
  std::size_t blocks = 1;
  Algorithm algorithm;
  std::string reason;
};

// A stage of the backward pass: layers [first, next), the first running its backward through the
// others' (Layer::backward_fused).
struct BackwardStage {
  std::size_t first = 0, next = 1;
  kernels::PostOps post_ops;
};

struct Plan {
  Pass pass = Pass::inference;
  Shape input, output;
  ExecutorProfile profile;
  std::string strategy;                  // the strategy it was made from
  std::vector<std::string> layer_names;  // the model's, to check it runs the model it was made for
  std::vector<std::string> layer_kinds;  // each layer's own name ("Conv2d(1->32, k=3)"), for describe()
  std::vector<Shape> layer_outputs;      // each layer's output shape, unfused
  // Depth-first blocks of images, each run through every stage on one worker; the whole batch: none.
  Cut batch_blocks{std::numeric_limits<std::size_t>::max(), 1, 1, 1};
  std::size_t team = 1;  // workers a team keeps between stages (1: each cut forks through oneTBB)
  std::vector<PlanStage> stages;
  std::vector<BackwardStage> backward;  // Pass::for_backward: the backward pass's stages, first to last
  std::string note;                     // what the whole model's choice rests on, where it was measured

  std::size_t batch() const { return input.rank() ? input[0] : 1; }
  bool depth_first() const { return batch_blocks.n < batch(); }

  // One line for the plan, one per stage and one per post-op: shapes, FLOPs, the one-core estimate,
  // the cut, the kernel path, the scratch and the reason.
  std::string describe() const {
    std::string text;
    char line[640];
    char hand_off[48] = "";
    if (profile.hand_off_ns > 0) std::snprintf(hand_off, sizeof hand_off, ", hand-off %.0f ns", profile.hand_off_ns);
    std::snprintf(line, sizeof line, "plan: %s %s, input %s, %zu worker(s)%s%s, strategy %s, %s kernels\n",
                  pass == Pass::inference ? "forward" : "forward for backward", depth_first() ? "depth-first" : "layer by layer",
                  input.str().c_str(), profile.workers, team > 1 ? " kept in a team" : "", hand_off, strategy.c_str(),
                  kernels::isa_name(kernels::active_isa()));
    text += line;
    if (depth_first()) {
      std::snprintf(line, sizeof line,
                    "depth-first: %zu images in %zu blocks of up to %zu, one task each; inside a block every layer "
                    "runs sequentially\n",
                    batch(), BlockGrid(IndexSpace{batch()}, batch_blocks).count(), batch_blocks.n);
      text += line;
    }
    if (!note.empty()) text += note + "\n";
    for (const PlanStage& st : stages) {
      const Workload& w = st.work;
      std::snprintf(line, sizeof line, "%-12s %-26s -> %-18s %9.3f MFLOP %9.1f us/core  %-11s %4zu blocks  %s\n",
                    layer_names[st.first].c_str(), layer_kinds[st.first].c_str(),
                    layer_outputs[st.first].str().c_str(), w.flops / 1e6, strategy::Auto{}.estimated_ns(w) / 1e3,
                    st.strategy.c_str(), st.blocks, st.reason.c_str());
      text += line;
      if (!st.algorithm.name.empty()) {
        std::snprintf(line, sizeof line, "%-12s   kernel: %s; scratch %zu values per worker, %zu shared\n", "",
                      st.algorithm.name.c_str(), st.algorithm.scratch_per_worker, st.algorithm.shared);
        text += line;
      }
      for (std::size_t j = st.first + 1; j < st.next; ++j) {
        std::snprintf(line, sizeof line, "%-12s %-26s -> %-18s a post-op of %s\n", layer_names[j].c_str(),
                      layer_kinds[j].c_str(), layer_outputs[j].str().c_str(), layer_names[st.first].c_str());
        text += line;
      }
    }
    for (const BackwardStage& st : backward)
      if (st.next > st.first + 1) {
        std::snprintf(line, sizeof line, "backward: %s through %s in one pass\n", layer_names[st.first].c_str(),
                      st.post_ops.str().c_str());
        text += line;
      }
    return text;
  }
};

}  // namespace parcnn
