// parcnn/parallel/auto.hpp — strategy::Auto: a per-layer choice of cut from the layer's shape.
//
// The rules, in order (each decision is explained by `choose`):
//  1. one worker, or too little work to pay for tasks (below `min_parallel_flops`): sequential;
//  2. enough images to keep every worker busy (efficiency = N / round_up(N, workers) >= 0.9, or at
//     least 4 images per worker): batch — whole images per task, no shared data, bitwise exact;
//  3. otherwise parallelism inside an image: spatial when the output rows split well (efficiency
//     >= 0.9, or at least 4 rows per worker) — each task builds only its own im2col columns; else
//     channel when there are channels to split — a convolution then builds its columns once, before
//     the channel blocks run, which costs a sequential step (measured at batch 1, 2 threads, conv2 of
//     the letter CNN: spatial 48.7 µs, channel 80.9 µs, sequential 65.3 µs).
#pragma once

#include <cstdio>
#include <string>

#include "parcnn/parallel/batch.hpp"
#include "parcnn/parallel/channel.hpp"
#include "parcnn/parallel/index_space.hpp"
#include "parcnn/parallel/sequential.hpp"
#include "parcnn/parallel/spatial.hpp"

namespace parcnn::strategy {

struct AutoChoice {
  std::string strategy;  // the name of the fixed strategy chosen
  Cut cut;
  std::string reason;
};

struct Auto {
  // Below this many FLOPs a layer runs on one thread: a fork-join costs a few microseconds.
  double min_parallel_flops = 4e5;
  // Most images per block when a model runs depth-first (Sequential::depth_first_cut). Blocks are as
  // large as the batch over the workers allows, up to this: on the letter CNN at batch 64, 2 threads,
  // blocks of 32 images ran 19.0k images/s, of 16 18.4k, of 8 16.9k (per-call costs of every layer
  // are paid once per block); at batch 256, 64 still beat 32.
  std::size_t depth_first_max_images = 64;

  enum class Choice { sequential_one_worker, sequential_small, batch, spatial, channel, spatial_fallback, batch_fallback };

  // The decision alone: no strings, no allocation (it runs for every layer of every forward pass).
  Choice decide(const Workload& work, std::size_t workers) const {
    const IndexSpace& s = work.space;
    if (workers <= 1) return Choice::sequential_one_worker;
    if (work.flops < min_parallel_flops) return Choice::sequential_small;
    if (s.n >= workers && (parallel_efficiency(s.n, workers) >= 0.9 || s.n >= 4 * workers)) return Choice::batch;
    const double eff_c = s.c > 1 ? parallel_efficiency(s.c, workers) : 0.0;
    const double eff_h = s.h > 1 ? parallel_efficiency(s.h, workers) : 0.0;
    if (eff_h >= 0.9 || s.h >= 4 * workers) return Choice::spatial;
    if (eff_c > 0 && eff_c >= eff_h) return Choice::channel;
    if (eff_h > 0) return Choice::spatial_fallback;
    return Choice::batch_fallback;
  }

  Cut cut(const Workload& work, std::size_t workers) const {
    switch (decide(work, workers)) {
      case Choice::sequential_one_worker:
      case Choice::sequential_small: return Sequential{}.cut(work, workers);
      case Choice::spatial:
      case Choice::spatial_fallback: return Spatial{}.cut(work, workers);
      case Choice::channel: return Channel{}.cut(work, workers);
      default: return Batch{}.cut(work, workers);
    }
  }

  // The decision with its reason, for describe() and --plan.
  AutoChoice choose(const Workload& work, std::size_t workers) const {
    const IndexSpace& s = work.space;
    auto fmt = [](const char* f, double a, double b = 0, double c = 0) {
      char buf[160];
      std::snprintf(buf, sizeof buf, f, a, b, c);
      return std::string(buf);
    };
    const Cut c = cut(work, workers);
    switch (decide(work, workers)) {
      case Choice::sequential_one_worker: return {"sequential", c, "1 worker"};
      case Choice::sequential_small:
        return {"sequential", c,
                fmt("%.0f kFLOP is below the %.0f kFLOP worth a fork-join", work.flops / 1e3, min_parallel_flops / 1e3)};
      case Choice::batch:
        return {"batch", c,
                fmt("%.0f images over %.0f workers, efficiency %.2f", double(s.n), double(workers),
                    parallel_efficiency(s.n, workers))};
      case Choice::spatial:
      case Choice::spatial_fallback:
        return {"spatial", c,
                fmt("%.0f images are too few; %.0f output rows split with efficiency %.2f", double(s.n), double(s.h),
                    parallel_efficiency(s.h, workers))};
      case Choice::channel:
        return {"channel", c,
                fmt("%.0f images are too few; %.0f channels split with efficiency %.2f", double(s.n), double(s.c),
                    parallel_efficiency(s.c, workers))};
      default:
        return {"batch", c,
                fmt("nothing to cut inside an image; %.0f images, efficiency %.2f", double(s.n),
                    parallel_efficiency(s.n, workers))};
    }
  }

  std::string name() const { return "auto"; }
};

}  // namespace parcnn::strategy
