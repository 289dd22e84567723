// parcnn/parallel/auto.hpp — strategy::Auto: a per-layer choice of cut from the layer's shape and cost.
//
// The rules, in order (each decision is explained by `choose`):
//  1. one worker, or too little work to pay for a fork-join: sequential. "Too little" is weighed in
//     time, not FLOPs: a cut over `workers` saves the layer's one-core time × (1 − 1/workers), and pays
//     only when that exceeds `fork_join_ns`. The one-core time is the layer's own estimate from its
//     kernels' rates (Workload::one_core_ns, kernels/cost.hpp), because per value the kernels differ by
//     fifty times: at batch 16 on 2 threads (layers_bench, Zen 5) log-softmax (1.3 µs alone) runs
//     1.7 µs cut by images, GELU over 8,192 values (1.8 µs) 2.0 µs, the 1×1 max pool over 2,048 planes
//     (10.3 µs) 6.5 µs — a fork-join costs about 1.1 µs there, whatever the layer;
//  2. weight-bound layers — parameters at least `weight_bound_ratio` times the activations, as in a
//     Linear layer at a small batch — cut by channel when the channels split well and the output rows
//     do not: each task reads only its rows of the weights, where cutting images makes every task read
//     all of them (fc2 at batch 16 on 2 threads: channel 15.5 µs, batch 34.1, sequential 22.6). A
//     convolution with rows to split goes on to rule 4 even so: the 3×3 512@7² at batch 1 (9 MiB of
//     weights) runs 683 µs by rows, 779 by channel, whose tasks wait for the image's columns;
//  3. enough images to keep every worker busy (efficiency = N / round_up(N, workers) >= 0.9, or at
//     least 4 images per worker): batch — whole images per task, no shared data, bitwise exact —
//     unless one image's output is so large (at least `large_image_outputs` values, far beyond a
//     core's L2) that cutting its rows is faster: the 7×7 stem at 224² (64 × 112², 0.8 M values) at
//     batch 64 on 2 threads runs 47 ms by rows, 59 ms by images; the 3×3 at 64@56² (0.2 M) runs about
//     the same either way (which wins changes from run to run), the 1×1 256→64 at 56² better by images.
//     Linear layers too: cut by channel, every task reads the whole input and writes part of every
//     output row, which on this host costs from nothing to 60 % from one run to the next (fc1 of the
//     letter CNN at batch 256 on 2 threads: 178 and 179 µs by images and by channel in one run, 171
//     and 282 in another), where whole images per task never lost more than 9 % (fc3 at batch 64:
//     4.18 against 3.85 µs). The blocks: up to four per worker, which evens out a core that falls behind, but never so many
//     that a block holds fewer images than the layer computes together (Workload::stacked_images) or
//     less than `min_block_ns` of work (batch_grain);
//  3b. a layer with parameters and one output position per image (a Linear layer) whose images do not
//     fill the workers: by channel, each task reading only its rows of the weights;
//  4. otherwise parallelism inside an image, when the saving also pays what such a cut costs beyond
//     the fork-join: the layer's own figure for a cut of its channels and of its rows
//     (Workload::channel_cut_ns, row_cut_ns), else `in_image_ns` (a spatial cut of a convolution
//     through im2col repeats halo rows and runs narrower GEMMs), and for a channel cut the share of the
//     work every block repeats (Workload::channel_cut_repeats_ns: a convolution through im2col builds
//     the image's columns in each channel block). Of the cuts that split well — rows at efficiency
//     >= 0.85 or 4 rows per worker, channels at >= 0.9 or 4 per worker — the cheaper, rows on a tie:
//     each row task builds only its own im2col columns; each channel task reads only its own weight
//     rows; else sequential. Measured alone at batch 1, 2 threads (bench/layers_bench, Zen 5): conv2
//     (11 rows, 22 µs) channel 14.6, spatial 15.5; conv3 (3 rows, 12.1 µs) channel 8.5, spatial 13.6;
//     3×3 512@7² (7 rows, efficiency 0.875, its columns ten times conv2's) spatial 714, channel 816,
//     sequential 1412; conv1 through the direct kernel, whose blocks share nothing (3.5 µs), channel
//     2.9, spatial 3.3.
// The costs of a cut (fork_join_ns, the in-image figures) were measured with the two vCPUs close. When
// the host places them far apart, one cache line takes 360–650 ns there and back instead of about 100,
// and every cut that shares data costs several times more: at batch 1 on 2 threads, conv2 with its
// pool and GELU (21.4 µs alone) ran 35.9 µs cut by channel, fc1 4.0 µs cut against 2.0 alone, the
// whole network 67 µs under auto against 48 µs on one thread. So where the hand-off measured in this
// executor scope (Team::measured_hand_off_ns) exceeds `reference_hand_off_ns` by half, every cost is
// scaled by their ratio, a cut inside an image costs at least in_image_ns, and the channel cuts of
// rules 2 and 3b must pay the in-image cost too (conv3 with its pool and GELU at batch 1: 12.9 µs
// alone, 15.4 cut by channel); where the cores are close, nothing changes.
// Near the thresholds no rule is right on every run (the fork-join itself varies on a busy host):
// strategy::Tuned measures instead of guessing.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>

#include "parcnn/parallel/batch.hpp"
#include "parcnn/parallel/channel.hpp"
#include "parcnn/parallel/index_space.hpp"
#include "parcnn/parallel/sequential.hpp"
#include "parcnn/parallel/spatial.hpp"
#include "parcnn/parallel/team.hpp"

namespace parcnn::strategy {

struct AutoChoice {
  std::string strategy;  // the name of the fixed strategy chosen
  Cut cut;
  std::string reason;
};

struct Auto {
  // What a fork-join costs: a cut pays when the time it saves, the layer's one-core time ×
  // (1 − 1/workers), exceeds this. On 2 threads here a cut across images takes 1.0 to 1.4 µs beyond
  // half the work (GELU over 16,384 values: 3.6 µs alone, 2.9 cut; log-softmax at batch 64: 4.9 and
  // 3.6; 1×1 max pool at batch 16: 10.3 and 6.5).
  double fork_join_ns = 1200;
  // What a cut costs handed to the spinning helpers of a team instead (Team::run, as a model's
  // layer-by-layer pass runs; see in_team): nothing to spawn, no thread to wake. A throwaway program
  // timed the bare hand-off of two blocks at 0.18 µs in a team and 0.9 through oneTBB; the letter CNN
  // at batch 1 on 2 threads ran the same with this at 0.2, 0.4 or 0.8 µs, 0.7–1.6 µs slower with 1.2
  // (fused and unfused, two runs of 31 × 200 forwards each).
  double team_fork_join_ns = 400;
  // What a cut inside one image costs beyond the fork-join (rule 4) for a layer that does not say
  // (Workload::channel_cut_ns, row_cut_ns): about 3 µs for a convolution through im2col cut by rows at
  // batch 1 on 2 threads (conv2 of the letter CNN: 22 µs alone, 15.5 by rows); weight-bound layers,
  // whose channel cut shares nothing but a small input, pay only the fork-join (fc2 at batch 1: 3.9 µs
  // alone, 2.9 by channel).
  double in_image_ns = 3000;
  // For a layer that gives no one-core estimate (Workload::one_core_ns = 0): the longer of its FLOPs
  // at this rate and its bytes at that one.
  double fallback_flop_per_ns = 100;
  double fallback_bytes_per_ns = 130;
  // Parameters / activations (in bytes) from which a layer counts as weight-bound (rule 2): fc2 at
  // batch 16 (10.7) runs best cut by channel, at batch 64 (2.7) by batch.
  double weight_bound_ratio = 4.0;
  // Output values per image from which rows are cut before images (rule 3).
  double large_image_outputs = 512.0 * 1024;
  // The round trip of a cache line between two cores at which the costs above were measured (Team's
  // probe: 110 ns with the vCPUs close, 500–560 far apart), and the figure to scale them by:
  // `hand_off_ns` when set (>= 0), else what the calling executor scope measured (none: no scaling).
  double reference_hand_off_ns = 150;
  double hand_off_ns = -1;

  // Blocks per worker when cutting by images (rule 3), at most; fewer where the batch or the layer's
  // time is too small (batch_grain).
  std::size_t batch_blocks_per_worker = 4;
  // The least work a block of images should hold: each further task costs its spawn and a cold start,
  // and on layers of a few microseconds four blocks per worker lost to one (layers_bench, batch 64 on
  // 2 threads: fc3, 6 µs on one core, 4.2 µs in blocks of 8 images, 3.8 in blocks of 32; the GELU after
  // fc1, 9 µs, 4.8 and 4.5).
  double min_block_ns = 5000;
  // Most images per block when a model runs depth-first (Sequential::depth_first_cut). Blocks are as
  // large as the batch over the workers allows, up to this, which keeps a block's activations near the
  // core's caches: letter CNN at batch 256 (images/s; 2 threads / 1 thread): blocks of 16 32.2k / 16.7k,
  // of 32 32.2k / 16.6k, of 64 30.4k / 15.2k, of 8 29.5k / 16.1k.
  std::size_t depth_first_max_images = 32;
  // Two blocks per worker instead of one when each still holds at least this many images: the second
  // evens out a core that falls behind, and 8 images still fill a convolution's stacked GEMM (letter
  // CNN at batch 64 on 2 threads: conv3's stage 201 µs in blocks of 16, 207 in blocks of 32; the whole
  // network 1,187 and 1,173 µs).
  std::size_t depth_first_min_images = 8;

  enum class Choice {
    sequential_one_worker,
    sequential_small,
    sequential_small_in_image,
    channel_weight_bound,
    channel_one_position,
    spatial_large_image,
    batch,
    spatial,
    channel,
    sequential_in_image
  };

  // The decision alone: no strings, no allocation (it runs for every layer of every forward pass).
  Choice decide(const Workload& work, std::size_t workers) const {
    const IndexSpace& s = work.space;
    if (workers <= 1) return Choice::sequential_one_worker;
    const double saved = saved_ns(work, workers);
    if (saved <= fork_join_cost()) return Choice::sequential_small;
    const bool channels_split = splits_channels(s, workers), rows_split = splits_rows(s, workers);
    if (weight_bound(work) && channels_split && !rows_split && pays_channel_cut(work, saved, workers))
      return Choice::channel_weight_bound;
    if (rows_split && double(s.c) * double(s.h) * double(s.w) >= large_image_outputs) return Choice::spatial_large_image;
    if (s.n >= workers && (parallel_efficiency(s.n, workers) >= 0.9 || s.n >= 4 * workers)) return Choice::batch;
    if (work.parameter_bytes > 0 && s.h == 1 && s.w == 1 && channels_split && pays_channel_cut(work, saved, workers))
      return Choice::channel_one_position;
    if (!rows_split && !channels_split) return Choice::sequential_in_image;
    const bool by_rows = in_image_by_rows(work, workers);
    if (saved <= fork_join_cost() + in_image_cost(work, by_rows, workers)) return Choice::sequential_small_in_image;
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
  // whatever else its blocks share, the image crosses between the cores. (conv2 and conv3 of the
  // letter CNN at batch 1, each channel block building its own columns, cost next to nothing beyond
  // the fork-join with the vCPUs close — conv2 with its pool and GELU 20.0 µs alone, 13.4 cut — and
  // with the vCPUs far apart the two cuts made the network 51 µs against 46.5 without them.)
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
  // per worker: blocks of 11, not 7 blocks of 10, of which one worker would run four). Measured
  // (layers_bench, 2 threads), blocks of the old fixed quarter per worker against these: conv3 at
  // batch 16 (it stacks 56 images of 3×3 positions in one GEMM) 92 µs in blocks of 2 images, 63 in
  // blocks of 8; at batch 64, 251 and 229 in blocks of 32; fc1 at batch 16 (a Linear layer's tile is 4
  // rows) 17.2 in blocks of 2, 11.4 in blocks of 4.
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
      case Choice::sequential_one_worker:
      case Choice::sequential_small:
      case Choice::sequential_small_in_image:
      case Choice::sequential_in_image: return Sequential{}.cut(work, workers);
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
      case Choice::sequential_one_worker: return {"sequential", c, "1 worker"};
      case Choice::sequential_small:
        return {"sequential", c,
                fmt("about %.2f us on one core: a cut would save %.2f us, not worth a fork-join (%.2f us)",
                    estimated_ns(work) / 1e3, saved_ns(work, workers) / 1e3, fork_join_cost() / 1e3)};
      case Choice::sequential_small_in_image:
        return {"sequential", c,
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
        return {"sequential", c,
                fmt("%.0f images, %.0f rows and %.0f channels all split badly", double(s.n), double(s.h), double(s.c))};
    }
  }

  std::string name() const { return "auto"; }
};

}  // namespace parcnn::strategy
