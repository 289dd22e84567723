// parcnn/parallel/index_space.hpp — the vocabulary strategies and layers share.
//
// A layer describes its work as an IndexSpace: images × output channels × output rows × output
// columns (a Linear layer is images × output features × 1 × 1). A strategy answers with a Cut, the
// extent of one block along each dimension; the blocks tile the space in a fixed order (images
// slowest, columns fastest), so the same cut always gives the same blocks, whatever thread runs them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>

#include "parcnn/core/range.hpp"

namespace parcnn {

// Fraction of `workers` kept busy when `items` equal work items are dealt out in rounds:
// items / round_up(items, workers). 1 when the items divide evenly.
inline double parallel_efficiency(std::size_t items, std::size_t workers) {
  if (items == 0 || workers == 0) return 0.0;
  return double(items) / double(ceil_div(items, workers) * workers);
}

struct IndexSpace {
  std::size_t n = 1, c = 1, h = 1, w = 1;
  std::size_t items() const { return n * c * h * w; }
  std::string str() const {
    return std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
  }
};

// What a layer tells a strategy about its work, for choosing a cut.
struct Workload {
  IndexSpace space;
  double flops = 0;  // multiply-adds count 2
  double bytes = 0;  // inputs + parameters + outputs, once each
  double parameter_bytes = 0;  // the parameters' share of `bytes`
  // The layer's estimate of its time on one core, in nanoseconds, from its kernels' rates
  // (kernels/cost.hpp); 0 when it gives none, and strategy::Auto then estimates from flops and bytes.
  double one_core_ns = 0;
  // What a cut inside one image costs beyond the fork-join, when the layer knows it (ns; negative:
  // strategy::Auto's in_image_ns): a cut of its output channels, and one of its output rows. The
  // direct kernel for small patches (kernels/conv2d_direct.hpp) shares nothing between channel blocks.
  double channel_cut_ns = -1;
  double row_cut_ns = -1;
  // What every block of a cut of its channels does in full rather than in part when the images are
  // fewer than the workers, in ns on one core: a convolution through im2col then builds in each
  // channel block the columns it reads. Such a cut saves only (one_core_ns - this) × (1 - 1/workers).
  double channel_cut_repeats_ns = 0;
  // Images the layer's kernels compute together at full speed (a convolution's stacked GEMM, a Linear
  // layer's register tile of rows): a block of fewer images runs them less efficiently, so
  // strategy::Auto cuts images into blocks of at least this many where the batch allows.
  std::size_t stacked_images = 1;
  double intensity() const { return bytes > 0 ? flops / bytes : 0.0; }
};

struct Block {
  Range n, c, h, w;
};

// Calls f(offset, count) over the runs of consecutive elements that block `blk` of `space` covers in a
// layout where each index of the space owns `per_item` consecutive elements (a layer's output under
// its own space): one run per image when the block holds whole planes, else one per row.
template <class F>
void for_each_run(const IndexSpace& space, const Block& blk, std::size_t per_item, F&& f) {
  const IndexSpace& s = space;
  for (std::size_t n = blk.n.begin; n < blk.n.end; ++n) {
    if (blk.h.size() == s.h && blk.w.size() == s.w) {
      f(((n * s.c + blk.c.begin) * s.h * s.w) * per_item, blk.c.size() * s.h * s.w * per_item);
      continue;
    }
    for (std::size_t c = blk.c.begin; c < blk.c.end; ++c)
      for (std::size_t h = blk.h.begin; h < blk.h.end; ++h)
        f((((n * s.c + c) * s.h + h) * s.w + blk.w.begin) * per_item, blk.w.size() * per_item);
  }
}

// Block extents along each dimension. An extent of at least the space's size means "not cut".
struct Cut {
  std::size_t n = 1, c = 1, h = 1, w = 1;

  // The cut that leaves the space whole: one block.
  static Cut whole(const IndexSpace& s) { return Cut{s.n, s.c, s.h, s.w}; }
};

// The blocks a cut makes of a space, addressed 0..count()-1 in a fixed order.
class BlockGrid {
 public:
  BlockGrid(const IndexSpace& space, const Cut& cut)
      : space_(space),
        cut_{std::max<std::size_t>(1, std::min(cut.n, space.n)), std::max<std::size_t>(1, std::min(cut.c, space.c)),
             std::max<std::size_t>(1, std::min(cut.h, space.h)), std::max<std::size_t>(1, std::min(cut.w, space.w))},
        bn_(ceil_div(space.n, cut_.n)),
        bc_(ceil_div(space.c, cut_.c)),
        bh_(ceil_div(space.h, cut_.h)),
        bw_(ceil_div(space.w, cut_.w)) {}

  std::size_t count() const { return space_.items() == 0 ? 0 : bn_ * bc_ * bh_ * bw_; }
  const Cut& cut() const { return cut_; }

  Block block(std::size_t i) const {
    const std::size_t iw = i % bw_;
    i /= bw_;
    const std::size_t ih = i % bh_;
    i /= bh_;
    const std::size_t ic = i % bc_;
    const std::size_t in = i / bc_;
    return Block{range(in, cut_.n, space_.n), range(ic, cut_.c, space_.c), range(ih, cut_.h, space_.h),
                 range(iw, cut_.w, space_.w)};
  }

 private:
  static Range range(std::size_t index, std::size_t extent, std::size_t size) {
    return Range{index * extent, std::min(size, (index + 1) * extent)};
  }

  IndexSpace space_;
  Cut cut_;
  std::size_t bn_, bc_, bh_, bw_;
};

}  // namespace parcnn
