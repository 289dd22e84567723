// parcnn/train/gradient_reduction.hpp — the gradient chunks of a batch summed into the parameters'
// gradients, in parallel, and the training step's last pass, which updates each range of parameters as
// soon as it is summed.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/core/gradient_chunks.hpp"
#include "parcnn/core/tensor_view.hpp"
#include "parcnn/parallel/index_space.hpp"
#include "parcnn/parallel/run.hpp"
#include "parcnn/train/optimizer.hpp"
#include "parcnn/train/parameters.hpp"

namespace parcnn {

// out[p] += the sum over the chunks (GradientChunks::sum, in chunk order) for every parameter p, in
// parallel blocks fixed by the sizes: the same bits with any thread count. Adds, so that gradients
// accumulate across calls until zeroed, as users of PyTorch expect.
template <class T>
void reduce_chunks(const GradientChunks<T>& chunks, const std::vector<TensorView<T>>& out) {
  if (out.size() != chunks.parameters())
    throw ShapeError("reduce_chunks: " + std::to_string(out.size()) + " outputs for " +
                     std::to_string(chunks.parameters()) + " parameters");
  for (std::size_t p = 0; p < out.size(); ++p) {
    const Shape& expected = chunks.shape(p);
    if (out[p].shape() != expected)
      throw ShapeError("reduce_chunks: parameter " + std::to_string(p) + " has shape " + expected.str() + ", output " +
                       out[p].shape().str());
  }
  constexpr std::size_t tile = GradientChunks<T>::tile;
  for (std::size_t p = 0; p < out.size(); ++p) {
    T* __restrict dst = out[p].data();
    // Blocks of 32k elements: a smaller parameter is summed on the calling thread, without a fork.
    run_blocks(IndexSpace{out[p].size()}, Cut{32768, 1, 1, 1}, [&](const Block& blk, std::size_t) {
      alignas(64) T total[tile];
      for (std::size_t i = blk.n.begin; i < blk.n.end; i += tile) {
        const std::size_t m = std::min(tile, blk.n.end - i);
        chunks.sum(p, i, m, total);
        for (std::size_t j = 0; j < m; ++j) dst[i + j] += total[j];
      }
    });
  }
}

// A step's last pass, range by range of params.ranges() in parallel: each parameter's gradient becomes
// the sum of its chunks' (GradientChunks::sum), and the optimizer updates those elements while they are
// in cache. The same values as zero_grad, reduce_chunks and optimizer.step in turn, in one pass over the
// gradients instead of three, and in one fork for all parameters (a parameter smaller than a block ran
// on one thread).
template <class T>
void reduce_and_update(const GradientChunks<T>& chunks, Parameters<T>& params, Optimizer<T>& optimizer) {
  if (chunks.parameters() != params.size())
    throw ShapeError("reduce_and_update: gradient chunks of " + std::to_string(chunks.parameters()) +
                     " parameters for " + std::to_string(params.size()));
  optimizer.begin_step();
  const std::vector<ElementRange>& ranges = params.ranges();
  run_blocks(IndexSpace{ranges.size()}, Cut{}, [&](const Block& blk, std::size_t) {
    for (std::size_t i = blk.n.begin; i < blk.n.end; ++i) {
      const ElementRange& r = ranges[i];
      Parameter<T>& p = params[r.tensor];
      chunks.sum(r.tensor, r.begin, r.count, p.grad.data() + r.begin);
      optimizer.update(p, r.begin, r.count);
    }
  });
}

}  // namespace parcnn
