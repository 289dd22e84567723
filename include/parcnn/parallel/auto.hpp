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

  AutoChoice choose(const Workload& work, std::size_t workers) const {
    const IndexSpace& s = work.space;
    auto fmt = [](const char* f, double a, double b = 0, double c = 0) {
      char buf[160];
      std::snprintf(buf, sizeof buf, f, a, b, c);
      return std::string(buf);
    };
    if (workers <= 1) return {"sequential", Sequential{}.cut(work, workers), "1 worker"};
    if (work.flops < min_parallel_flops)
      return {"sequential", Sequential{}.cut(work, workers),
              fmt("%.0f kFLOP is below the %.0f kFLOP worth a fork-join", work.flops / 1e3, min_parallel_flops / 1e3)};
    const double eff_n = parallel_efficiency(s.n, workers);
    if (s.n >= workers && (eff_n >= 0.9 || s.n >= 4 * workers))
      return {"batch", Batch{}.cut(work, workers),
              fmt("%.0f images over %.0f workers, efficiency %.2f", double(s.n), double(workers), eff_n)};
    const double eff_c = s.c > 1 ? parallel_efficiency(s.c, workers) : 0.0;
    const double eff_h = s.h > 1 ? parallel_efficiency(s.h, workers) : 0.0;
    if (eff_h >= 0.9 || s.h >= 4 * workers)
      return {"spatial", Spatial{}.cut(work, workers),
              fmt("%.0f images are too few; %.0f output rows split with efficiency %.2f", double(s.n), double(s.h), eff_h)};
    if (eff_c > 0 && eff_c >= eff_h)
      return {"channel", Channel{}.cut(work, workers),
              fmt("%.0f images are too few; %.0f channels split with efficiency %.2f", double(s.n), double(s.c), eff_c)};
    if (eff_h > 0)
      return {"spatial", Spatial{}.cut(work, workers),
              fmt("%.0f images are too few; %.0f output rows split with efficiency %.2f", double(s.n), double(s.h), eff_h)};
    return {"batch", Batch{}.cut(work, workers),
            fmt("nothing to cut inside an image; %.0f images, efficiency %.2f", double(s.n), eff_n)};
  }

  Cut cut(const Workload& work, std::size_t workers) const { return choose(work, workers).cut; }
  std::string name() const { return "auto"; }
};

}  // namespace parcnn::strategy
