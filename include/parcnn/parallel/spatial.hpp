// parcnn/parallel/spatial.hpp — strategy::Spatial: tasks take ranges of output rows, all channels,
// every image.
//
// A convolution cut this way builds only the im2col columns of its own rows and multiplies them by
// the whole weight matrix. A layer with no spatial extent (Linear, log-softmax) falls back to images.
#pragma once

#include <string>

#include "parcnn/parallel/batch.hpp"
#include "parcnn/parallel/index_space.hpp"

namespace parcnn::strategy {

struct Spatial {
  // Output rows per block; 0 gives one block per worker.
  std::size_t rows = 0;

  Cut cut(const Workload& work, std::size_t workers) const {
    if (work.space.h <= 1 && work.space.w <= 1) return Batch{}.cut(work, workers);
    Cut c = Cut::whole(work.space);
    c.h = rows ? rows : ceil_div(work.space.h, std::max<std::size_t>(1, workers));
    return c;
  }
  std::string name() const { return rows ? "spatial:" + std::to_string(rows) : "spatial"; }
};

}  // namespace parcnn::strategy
