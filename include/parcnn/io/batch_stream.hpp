// parcnn/io/batch_stream.hpp — for_each_batch: a loader's batches through a step, the next batch made
// while the step runs.
//
// for_each_batch(loader, executor, step) calls step(images, labels) inside `executor`, on the calling
// thread, for every batch the loader has left this epoch, in order. With prefetching (the default) it
// is a pipeline of two stages, one batch deep: a thread of its own (std::async, outside oneTBB, so that
// the step keeps every worker of its executor) gathers, converts and normalises batch k + 1 in the
// shuffled order while the step runs batch k, so the step waits for data only for the first batch and
// whenever making a batch takes longer than a step. Without, each batch is made, then stepped. It
// returns what the step waited for its batches, against the whole call.
//
//   io::InputWait w = io::for_each_batch(loader, executor, [&](const Tensor<float>& x, const auto& y) {
//     trainer.step(x, y);
//   });
//   std::printf("waited for data %.1f %% of the epoch\n", 100 * w.share());
#pragma once

#include <chrono>
#include <future>
#include <vector>

#include "parcnn/core/tensor.hpp"
#include "parcnn/io/dataset.hpp"
#include "parcnn/parallel/executor.hpp"

namespace parcnn::io {

struct InputWait {
  std::size_t batches = 0;
  double wait_us = 0;   // the step had no batch to run
  double total_us = 0;  // the whole call
  double share() const { return total_us > 0 ? wait_us / total_us : 0; }
};

template <class T, class Step>
InputWait for_each_batch(BatchLoader<T>& loader, Executor& executor, Step&& step, bool prefetch = true) {
  using Clock = std::chrono::steady_clock;
  const auto us = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::micro>(b - a).count(); };
  InputWait w;
  w.batches = loader.batches_left();
  Tensor<T> images[2];  // the batch the step runs, and the one being made
  std::vector<std::size_t> labels[2];
  const auto make = [&](std::size_t slot) { loader.next(images[slot], labels[slot]); };
  std::future<void> next;  // after the buffers: on an exception it waits for the batch being made, then they go
  const Clock::time_point start = Clock::now();
  for (std::size_t k = 0; k < w.batches; ++k) {
    const std::size_t slot = prefetch ? k % 2 : 0;
    const Clock::time_point t0 = Clock::now();
    if (k == 0 || !prefetch)
      make(slot);
    else
      next.get();
    w.wait_us += us(t0, Clock::now());
    if (prefetch && k + 1 < w.batches) next = std::async(std::launch::async, make, (k + 1) % 2);
    executor.run([&] { step(static_cast<const Tensor<T>&>(images[slot]), static_cast<const std::vector<std::size_t>&>(labels[slot])); });
  }
  w.total_us = us(start, Clock::now());
  return w;
}

}  // namespace parcnn::io
