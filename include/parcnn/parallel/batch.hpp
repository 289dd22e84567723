// parcnn/parallel/batch.hpp — strategy::Batch: tasks take ranges of images.
//
// Each block is a run of whole images, so each image is computed exactly as the sequential run
// computes it: Batch is bitwise identical to Serial for every layer. At batch 1 there is nothing
// to cut and the layer runs as one block.
#pragma once

#include <algorithm>
#include <string>

#include "parcnn/parallel/index_space.hpp"

namespace parcnn::strategy {

struct Batch {
  // Images per block; 0 chooses about four blocks per worker: enough to even out a slow core, and
  // blocks of several images, which a convolution stacks into one larger matrix product.
  std::size_t grain = 0;

  Cut cut(const Workload& work, std::size_t workers) const {
    Cut c = Cut::whole(work.space);
    c.n = grain ? grain : std::max<std::size_t>(1, work.space.n / (4 * std::max<std::size_t>(1, workers)));
    return c;
  }
  std::string name() const { return grain ? "batch:" + std::to_string(grain) : "batch"; }
};

}  // namespace parcnn::strategy
