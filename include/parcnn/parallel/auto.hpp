// parcnn/parallel/auto.hpp — strategy::Auto: a per-layer choice of cut from the layer's shape.
//
// The rules, in order (each decision is explained by `choose`):
//  1. one worker, or too little work to pay for tasks (below `min_parallel_flops`): sequential;
//  2. enough images to keep every worker busy (efficiency = N / round_up(N, workers) >= 0.9, or at
//     least 4 images per worker): batch — whole images per task, no shared data, bitwise exact;
//  3. otherwise parallelism inside an image: spatial when the output rows split well (efficiency
//     >= 0.9, or at least 4 rows per worker) — each task builds only its own im2col columns; channel
//     for layers without rows (Linear: each task reads only its weight rows); else sequential. A
//     channel cut of a convolution shares one im2col across cores, and moving it between cores costs
//     more than the split saves (batch 1, 2 threads, conv2 of the letter CNN: sequential 56 µs, channel
//     69 µs, spatial 37 µs; conv3, 3 rows: sequential 32 µs, channel 82 µs). Shapes the rules get
//     wrong are what strategy::Tuned is for.
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

  enum class Choice { sequential_one_worker, sequential_small, batch, spatial, channel, sequential_in_image };

  // The decision alone: no strings, no allocation (it runs for every layer of every forward pass).
  Choice decide(const Workload& work, std::size_t workers) const {
    const IndexSpace& s = work.space;
    if (workers <= 1) return Choice::sequential_one_worker;
    if (work.flops < min_parallel_flops) return Choice::sequential_small;
    if (s.n >= workers && (parallel_efficiency(s.n, workers) >= 0.9 || s.n >= 4 * workers)) return Choice::batch;
    const double eff_c = s.c > 1 ? parallel_efficiency(s.c, workers) : 0.0;
    const double eff_h = s.h > 1 ? parallel_efficiency(s.h, workers) : 0.0;
    if (eff_h >= 0.9 || s.h >= 4 * workers) return Choice::spatial;
    if (s.h == 1 && s.w == 1 && eff_c > 0) return Choice::channel;
    return Choice::sequential_in_image;
  }

  Cut cut(const Workload& work, std::size_t workers) const {
    switch (decide(work, workers)) {
      case Choice::sequential_one_worker:
      case Choice::sequential_small:
      case Choice::sequential_in_image: return Sequential{}.cut(work, workers);
      case Choice::spatial: return Spatial{}.cut(work, workers);
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
        return {"spatial", c,
                fmt("%.0f images are too few; %.0f output rows split with efficiency %.2f", double(s.n), double(s.h),
                    parallel_efficiency(s.h, workers))};
      case Choice::channel:
        return {"channel", c,
                fmt("%.0f images are too few; %.0f features split with efficiency %.2f", double(s.n), double(s.c),
                    parallel_efficiency(s.c, workers))};
      default:
        return {"sequential", c,
                fmt("%.0f images are too few and %.0f rows split badly; channels would share columns across cores",
                    double(s.n), double(s.h))};
    }
  }

  std::string name() const { return "auto"; }
};

}  // namespace parcnn::strategy
