// parcnn/parallel/channel.hpp — strategy::Channel: tasks take ranges of output channels (filters),
// or of output features for a Linear layer.
//
// A convolution cut this way builds its im2col columns once per image, shared by all channel blocks.
// Where a layer has a single channel (log-softmax's per-image rows), the cut falls back to images.
#pragma once

#include <string>

#include "parcnn/parallel/batch.hpp"
#include "parcnn/parallel/index_space.hpp"

namespace parcnn::strategy {

struct Channel {
  // Output channels per block; 0 gives one block per worker.
  std::size_t block = 0;

  Cut cut(const Workload& work, std::size_t workers) const {
    if (work.space.c <= 1) return Batch{}.cut(work, workers);
    Cut c = Cut::whole(work.space);
    c.c = block ? block : ceil_div(work.space.c, std::max<std::size_t>(1, workers));
    return c;
  }
  std::string name() const { return block ? "channel:" + std::to_string(block) : "channel"; }
};

}  // namespace parcnn::strategy
