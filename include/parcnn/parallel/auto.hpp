// parcnn/parallel/auto.hpp — strategy::Auto: a per-layer choice of cut from the layer's workload and
// the executor's hand-off.
//
// The rules, in order (each decision is explained by `choose`):
//  1. one worker, or a cut that would save no more than a fork-join costs: serial. The saving is
//     weighed in time — the layer's one-core estimate (Workload::one_core_ns) × (1 − 1/workers) —
//     because per value the kernels differ fifty-fold, and FLOPs or bytes alone cannot say whether a
//     layer of a few microseconds is worth a fork-join;
//  2. weight-bound layers (parameters ≥ weight_bound_ratio × activations, as a Linear layer at a small
//     batch) whose channels split and rows do not: by channel, so that each task reads only its rows of
//     the weights;
//  3. images that fill the workers: batch (whole images per task, nothing shared), in blocks sized by
//     batch_grain — unless one image's output is so large (large_image_outputs) that cutting its rows
//     is faster;
//  3b. a layer with parameters and one output position per image (a Linear layer) whose images do not
//     fill the workers: by channel;
//  4. otherwise inside an image, when the saving also pays what such a cut costs beyond the fork-join
//     (the layer's own figure, Workload::channel_cut_ns and row_cut_ns, else in_image_ns, plus for a
//     channel cut the work its blocks repeat): of the cuts that split well, the cheaper, rows on a tie;
//     else serial.
// Every cost scales with the executor's hand-off (cost_scale) where it is well above the one the
// defaults were measured at: with the cores far apart, every cut that shares data costs several times
// more. The cut costs come from the machine profile in use (parallel/machine_profile.hpp); the other
// settings' defaults and the measurements behind each: docs/strategies.md ("Auto's settings").
// Near the thresholds no rule is right on every run; strategy::Tuned measures instead of guessing.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>

#include "parcnn/parallel/batch.hpp"
#include "parcnn/parallel/channel.hpp"
#include "parcnn/parallel/index_space.hpp"
#include "parcnn/parallel/machine_profile.hpp"
#include "parcnn/parallel/serial.hpp"
#include "parcnn/parallel/spatial.hpp"
#include "parcnn/parallel/team.hpp"

namespace parcnn::strategy {

struct AutoChoice {
  std::string strategy;  // the name of the fixed strategy chosen
  Cut cut;
  std::string reason;
};

struct Auto {
  // What a fork-join costs: a cut pays when the time it saves exceeds this. This and the next two: the
  // machine profile's in use when the Auto is made (parallel/machine_profile.hpp).
  double fork_join_ns = machine_profile().fork_join_ns;
  // What a cut costs handed to the spinning helpers of a team instead (Team::run, as a model's
  // layer-by-layer pass runs; see in_team): nothing to spawn, no thread to wake.
  double team_fork_join_ns = machine_profile().team_fork_join_ns;
  // What a cut inside one image costs beyond the fork-join (rule 4) for a layer that does not say
  // (Workload::channel_cut_ns, row_cut_ns).
  double in_image_ns = 3000;
  // For a layer that gives no one-core estimate (Workload::one_core_ns = 0): the longer of its FLOPs
  // at this rate and its bytes at that one.
  double fallback_flop_per_ns = 100;
  double fallback_bytes_per_ns = 130;
  // Parameters / activations (in bytes) from which a layer counts as weight-bound (rule 2).
  double weight_bound_ratio = 4.0;
  // Output values per image from which rows are cut before images (rule 3).
  double large_image_outputs = 512.0 * 1024;
  // The hand-off (a cache line's round trip between two workers) at which the costs above hold, and
  // the figure to scale them by: `hand_off_ns` when set (>= 0; a plan sets its executor's), else what
  // the calling executor scope measured (none: no scaling).
  double reference_hand_off_ns = machine_profile().reference_hand_off_ns;
  double hand_off_ns = -1;

  // Blocks per worker when cutting by images (rule 3), at most; fewer where the batch or the layer's
  // time is too small (batch_grain).
  std::size_t batch_blocks_per_worker = 4;
  // The least work a block of images should hold: each further task costs its spawn and a cold start.
  double min_block_ns = 5000;
  // Most images per block when a model runs depth-first (planner::depth_first_cut): blocks as large as
  // the batch over the workers allows, up to this, keep a block's activations near the core's caches.
  std::size_t depth_first_max_images = 32;
  // Two blocks per worker instead of one when each still holds at least this many images: the second
  // evens out a core that falls behind, and this many still fill a convolution's stacked GEMM.
  std::size_t depth_first_min_images = 8;

  enum class Choice {
    serial_one_worker,
    serial_small,
    serial_small_in_image,
    channel_weight_bound,
    channel_one_position,
    spatial_large_image,
    batch,
    spatial,
    channel,
    serial_in_image
  };

  // The decision alone: no strings, no allocation (it runs for every layer of every forward pass).
  Choice decide(const Workload& work, std::size_t workers) const {
    const IndexSpace& s = work.space;
    if (workers <= 1) return Choice::serial_one_worker;
    const double saved = saved_ns(work, workers);
    if (saved <= fork_join_cost()) return Choice::serial_small;
    const bool channels_split = splits_channels(s, workers), rows_split = splits_rows(s, workers);
    if (weight_bound(work) && channels_split && !rows_split && pays_channel_cut(work, saved, workers))
      return Choice::channel_weight_bound;
    if (rows_split && double(s.c) * double(s.h) * double(s.w) >= large_image_outputs) return Choice::spatial_large_image;
    if (s.n >= workers && (parallel_efficiency(s.n, workers) >= 0.9 || s.n >= 4 * workers)) return Choice::batch;
    if (work.parameter_bytes > 0 && s.h == 1 && s.w == 1 && channels_split && pays_channel_cut(work, saved, workers))
      return Choice::channel_one_position;
    if (!rows_split && !channels_split) return Choice::serial_in_image;
    const bool by_rows = in_image_by_rows(work, workers);
    if (saved <= fork_join_cost() + in_image_cost(work, by_rows, workers)) return Choice::serial_small_in_image;
    return by_rows ? Choice::spatial : Choice::channel;
  }

  // Rules 2 and 3b: a channel cut of a layer that reads a small input pays only the fork-join where
  // the cores are close and its blocks repeat nothing; else the in-image cost too (cost_scale() > 1:
  // the cores far apart).
  bool pays_channel_cut(const Workload& work, double saved, std::size_t workers) const {
    if (cost_scale() == 1.0 && work.channel_cut_repeats_ns <= 0) return true;
    return saved > fork_join_cost() + in_image_cost(work, false, workers);
  }

  bool splits_channels(const IndexSpace& s, std::size_t workers) const {
    return (s.c > 1 && parallel_efficiency(s.c, workers) >= 0.9) || s.c >= 4 * workers;
  }
  bool splits_rows(const IndexSpace& s, std::size_t workers) const {
    return (s.h > 1 && parallel_efficiency(s.h, workers) >= 0.85) || s.h >= 4 * workers;
  }

  // Inside an image (rule 4): the cheaper of the cuts that split well, rows on a tie.
  bool in_image_by_rows(const Workload& work, std::size_t workers) const {
    if (!splits_rows(work.space, workers)) return false;
    return !splits_channels(work.space, workers) ||
           in_image_cost(work, true, workers) <= in_image_cost(work, false, workers);
  }

  // What a cut inside one image costs beyond the fork-join: the layer's figure, else in_image_ns,
  // scaled by the hand-off; for a channel cut, also the share of the work its blocks repeat that a
  // cut without repeats would have given the other workers. The layers' figures hold where the cores
  // are close; where they are far apart (cost_scale() > 1) a cut costs at least in_image_ns, scaled:
  // whatever else its blocks share, the image crosses between the cores.
  double in_image_cost(const Workload& work, bool by_rows, std::size_t workers) const {
    const double scale = cost_scale();
    double layer_ns = by_rows ? work.row_cut_ns : work.channel_cut_ns;
    if (layer_ns < 0 || (scale > 1.0 && layer_ns < in_image_ns)) layer_ns = in_image_ns;
    const bool repeats = !by_rows && work.space.n < workers;  // with an image per worker, nothing is repeated
    const double repeated =
        repeats ? work.channel_cut_repeats_ns * (1.0 - 1.0 / double(std::max<std::size_t>(1, workers))) : 0.0;
    return layer_ns * scale + repeated;
  }

  // This Auto as it decides for cuts a team runs: its fork-join at team_fork_join_ns.
  Auto in_team() const {
    Auto a = *this;
    a.fork_join_ns = team_fork_join_ns;
    return a;
  }

  // What a fork-join costs here: fork_join_ns scaled by the hand-off.
  double fork_join_cost() const { return fork_join_ns * cost_scale(); }

  // How much dearer than where they were measured every cut is: the hand-off (hand_off_ns, else the
  // executor scope's measurement) over reference_hand_off_ns when it is at least 1.5 (noise below), else 1.
  double cost_scale() const {
    const double ratio = (hand_off_ns >= 0 ? hand_off_ns : Team::measured_hand_off_ns()) / reference_hand_off_ns;
    return ratio >= 1.5 ? ratio : 1.0;
  }

  // The layer's time on one core: its own estimate, else from its FLOPs and bytes.
  double estimated_ns(const Workload& work) const {
    if (work.one_core_ns > 0) return work.one_core_ns;
    const double compute = work.flops / fallback_flop_per_ns, stream = work.bytes / fallback_bytes_per_ns;
    return compute > stream ? compute : stream;
  }

  // What cutting the work evenly over `workers` would save, before the cost of the cut.
  double saved_ns(const Workload& work, std::size_t workers) const {
    return workers > 1 ? estimated_ns(work) * (1.0 - 1.0 / double(workers)) : 0.0;
  }

  bool weight_bound(const Workload& work) const {
    const double activations = work.bytes - work.parameter_bytes;
    return work.parameter_bytes > 0 && work.parameter_bytes >= weight_bound_ratio * activations;
  }

  // Images per block for a cut by images: about n / (k × workers), k the largest of 1 to
  // batch_blocks_per_worker that leaves every block the layer's stacked images and min_block_ns of
  // work; rounded down or up, whichever leaves the busiest worker fewer images (64 images in 3 blocks
  // per worker: blocks of 11, not 7 blocks of 10, of which one worker would run four).
  std::size_t batch_grain(const Workload& work, std::size_t workers) const {
    const std::size_t n = work.space.n, w = std::max<std::size_t>(1, workers);
    const std::size_t stacked = std::max<std::size_t>(1, work.stacked_images);
    const double by_time = estimated_ns(work) / (double(w) * min_block_ns);
    std::size_t k = std::min(batch_blocks_per_worker, n / (w * stacked));
    if (by_time < double(k)) k = std::size_t(by_time);
    const std::size_t blocks = w * std::max<std::size_t>(1, k);
    const std::size_t down = std::max<std::size_t>(1, n / blocks), up = (n + blocks - 1) / blocks;
    return busiest_worker_images(n, up, w) <= busiest_worker_images(n, down, w) ? up : down;
  }

  // The images of the busiest worker when blocks of `grain` images are dealt out in turn: the first
  // worker's, all its blocks full except the last block of all, when that one is its.
  static std::size_t busiest_worker_images(std::size_t n, std::size_t grain, std::size_t workers) {
    const std::size_t blocks = (n + grain - 1) / grain, first = (blocks + workers - 1) / workers;
    return (blocks - 1) % workers == 0 ? (first - 1) * grain + (n - (blocks - 1) * grain) : first * grain;
  }

  Cut cut(const Workload& work, std::size_t workers) const {
    switch (decide(work, workers)) {
      case Choice::serial_one_worker:
      case Choice::serial_small:
      case Choice::serial_small_in_image:
      case Choice::serial_in_image: return Serial{}.cut(work, workers);
      case Choice::spatial_large_image:
      case Choice::spatial: return Spatial{}.cut(work, workers);
      case Choice::channel_weight_bound:
      case Choice::channel_one_position:
      case Choice::channel: return Channel{}.cut(work, workers);
      default: return Batch{batch_grain(work, workers)}.cut(work, workers);
    }
  }

  // The decision with its reason, for describe() and --plan.
  AutoChoice choose(const Workload& work, std::size_t workers) const {
    const IndexSpace& s = work.space;
    auto fmt = [](const char* f, double a, double b = 0, double c = 0, double d = 0) {
      char buf[160];
      std::snprintf(buf, sizeof buf, f, a, b, c, d);
      return std::string(buf);
    };
    const Cut c = cut(work, workers);
    switch (decide(work, workers)) {
      case Choice::serial_one_worker: return {"serial", c, "1 worker"};
      case Choice::serial_small:
        return {"serial", c,
                fmt("about %.2f us on one core: a cut would save %.2f us, not worth a fork-join (%.2f us)",
                    estimated_ns(work) / 1e3, saved_ns(work, workers) / 1e3, fork_join_cost() / 1e3)};
      case Choice::serial_small_in_image:
        return {"serial", c,
                fmt("%.0f images split badly, and a cut inside an image would save %.2f us of about %.2f us, "
                    "less than it costs (%.2f us)",
                    double(s.n), saved_ns(work, workers) / 1e3, estimated_ns(work) / 1e3,
                    (fork_join_cost() + in_image_cost(work, in_image_by_rows(work, workers), workers)) / 1e3)};
      case Choice::spatial_large_image:
        return {"spatial", c,
                fmt("large images: %.2f M output values each; %.0f rows split with efficiency %.2f",
                    double(s.c) * double(s.h) * double(s.w) / 1e6, double(s.h), parallel_efficiency(s.h, workers))};
      case Choice::channel_weight_bound:
        return {"channel", c,
                fmt("weight-bound: %.0f KiB of parameters against %.0f KiB of activations; %.0f channels split",
                    work.parameter_bytes / 1024, (work.bytes - work.parameter_bytes) / 1024, double(s.c))};
      case Choice::channel_one_position:
        return {"channel", c,
                fmt("one output position per image (a Linear layer): each task reads only its rows of the weights "
                    "and runs all %.0f images; %.0f channels split",
                    double(s.n), double(s.c))};
      case Choice::batch:
        return {"batch", c,
                fmt("%.0f images over %.0f workers, efficiency %.2f; blocks of %.0f images", double(s.n),
                    double(workers), parallel_efficiency(s.n, workers), double(c.n))};
      case Choice::spatial:
        return {"spatial", c,
                fmt("%.0f images split badly; %.0f output rows split with efficiency %.2f", double(s.n), double(s.h),
                    parallel_efficiency(s.h, workers))};
      case Choice::channel:
        return {"channel", c,
                fmt(splits_rows(s, workers)
                        ? "%.0f images split badly; %.0f rows split, but a cut of the %.0f channels (efficiency %.2f) "
                          "costs less"
                        : "%.0f images and %.0f rows split badly; %.0f channels split with efficiency %.2f",
                    double(s.n), double(s.h), double(s.c), parallel_efficiency(s.c, workers))};
      default:
        return {"serial", c,
                fmt("%.0f images, %.0f rows and %.0f channels all split badly", double(s.n), double(s.h), double(s.c))};
    }
  }

  std::string name() const { return "auto"; }
};

}  // namespace parcnn::strategy
