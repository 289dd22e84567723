// parcnn/core/gradient_chunks.hpp — parameter gradients accumulated per chunk of the batch, then reduced.
//
// The guide's "parallel gradient computation": the batch is cut into chunks of a fixed number of images;
// each chunk adds its images' gradients, in image order, into buffers of its own, so chunks run on any
// thread without sharing; then the chunks are summed in chunk order (sum; in parallel by
// train/gradient_reduction.hpp). Chunks depend on the batch size only, never on the thread count, and
// every sum has a fixed order, so gradients — and the weights trained with them — are the same bits
// with 1 or N threads. Memory: chunks × parameters.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/core/range.hpp"
#include "parcnn/core/scalar.hpp"
#include "parcnn/core/tensor.hpp"

namespace parcnn {

template <class T>
class GradientChunks {
  PARCNN_CHECK_SCALAR(T);

 public:
  // Buffers for parameters of the given shapes and a batch of `batch` images in chunks of
  // `chunk_images`, all zero — or, with `zero` false, left as they are for each chunk's user to clear
  // with zero_chunk (on its own thread, just before it adds to them). Reuses its memory when the plan
  // does not grow.
  void plan(const std::vector<Shape>& parameters, std::size_t batch, std::size_t chunk_images, bool zero = true) {
    if (chunk_images == 0) throw ConfigError("GradientChunks: images per chunk must be at least 1");
    batch_ = batch;
    chunk_images_ = chunk_images;
    const std::size_t chunks = std::max<std::size_t>(1, ceil_div(batch, chunk_images));
    shapes_ = parameters;
    buffers_.resize(chunks * parameters.size());
    for (std::size_t c = 0; c < chunks; ++c)
      for (std::size_t p = 0; p < parameters.size(); ++p) {
        Tensor<T>& b = buffers_[c * parameters.size() + p];
        b.resize(parameters[p]);
      }
    if (zero)
      for (std::size_t c = 0; c < chunks; ++c) zero_chunk(c);
  }

  // Sets chunk c's buffers to zero.
  void zero_chunk(std::size_t c) {
    for (std::size_t p = 0; p < shapes_.size(); ++p) {
      Tensor<T>& b = buffers_[c * shapes_.size() + p];
      std::fill(b.begin(), b.end(), T(0));
    }
  }

  std::size_t chunks() const { return shapes_.empty() ? 0 : buffers_.size() / shapes_.size(); }
  std::size_t parameters() const { return shapes_.size(); }
  std::size_t chunk_images() const { return chunk_images_; }
  // Parameter p's shape.
  const Shape& shape(std::size_t p) const { return shapes_.at(p); }

  // The images of chunk c.
  Range images(std::size_t c) const {
    return Range{std::min(batch_, c * chunk_images_), std::min(batch_, (c + 1) * chunk_images_)};
  }

  // Chunk c's gradient of parameter p.
  TensorView<T> grad(std::size_t c, std::size_t p) { return buffers_[c * shapes_.size() + p].view(); }
  TensorView<const T> grad(std::size_t c, std::size_t p) const { return buffers_[c * shapes_.size() + p].view(); }

  // dst[j] = elements [begin, begin + count) of parameter p summed over the chunks in chunk order
  // (chunk 0 + chunk 1 + ...). One chunk at a time over tiles in cache, so that every loop runs along
  // contiguous memory and vectorises (element by element, over the chunks, it was a chain of dependent
  // additions).
  void sum(std::size_t p, std::size_t begin, std::size_t count, T* dst) const {
    const std::size_t C = chunks(), P = shapes_.size();
    if (p >= P || begin > buffers_[p].size() || count > buffers_[p].size() - begin)
      throw ShapeError("GradientChunks::sum: elements [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                       ") of parameter " + std::to_string(p) + " of " + std::to_string(P));
    for (std::size_t i = 0; i < count; i += tile) {
      const std::size_t m = std::min(tile, count - i), at = begin + i;
      add_chunk(dst + i, buffers_[p].data() + at, m, /*first=*/true);
      for (std::size_t c = 1; c < C; ++c) add_chunk(dst + i, buffers_[c * P + p].data() + at, m, false);
    }
  }

  // Elements per tile of sum: a tile of the sum and one of a chunk stay in L1.
  static constexpr std::size_t tile = 4096;

 private:
  // to[j] = from[j] (first) or to[j] += from[j], j < m: buffers that never overlap, so the loop vectorises.
  static void add_chunk(T* __restrict to, const T* __restrict from, std::size_t m, bool first) {
    if (first)
      for (std::size_t j = 0; j < m; ++j) to[j] = from[j];
    else
      for (std::size_t j = 0; j < m; ++j) to[j] += from[j];
  }

  std::size_t batch_ = 0, chunk_images_ = 1;
  std::vector<Shape> shapes_;
  std::vector<Tensor<T>> buffers_;
};

// Told by a model's backward pass as it goes: finished(first, count, chunks) once parameters [first,
// first + count) hold their final gradients for `chunks` (a range of GradientChunks' chunks), after each
// stage of the model, last layer first — count 0 for a stage without parameters. For a caller that sends
// gradients on while the pass goes on (parcnn::mpi::DistributedTrainer). Called on the thread that ran
// the stage: when chunks run on several workers, from several threads at once.
class GradientObserver {
 public:
  virtual void finished(std::size_t first, std::size_t count, Range chunks) = 0;

 protected:
  ~GradientObserver() = default;
};

// The gradients of one layer's parameters inside a model's GradientChunks: parameter p of the layer is
// parameter first + p of the model. A slice covers every chunk of the batch, or with only(c) chunk c
// alone, for a backward pass over that chunk's images (numbered from 0 there) — as a trainer runs when
// each chunk goes forward and back on one worker. The observer, if any, is the model's: from() leaves
// it out of a layer's slice.
template <class T>
struct GradientSlice {
  GradientChunks<T>* chunks = nullptr;
  std::size_t first = 0;
  std::size_t chunk_begin = 0;  // the slice's chunks: [chunk_begin, chunk_end), chunk_end 0 for all
  std::size_t chunk_end = 0;
  GradientObserver* observer = nullptr;

  std::size_t count() const { return chunks ? (chunk_end ? chunk_end : chunks->chunks()) - chunk_begin : 0; }
  Range images(std::size_t c) const {
    const Range r = chunks->images(chunk_begin + c);
    const std::size_t origin = chunks->images(chunk_begin).begin;
    return Range{r.begin - origin, r.end - origin};
  }
  TensorView<T> grad(std::size_t c, std::size_t p) const { return chunks->grad(chunk_begin + c, first + p); }
  // The same chunks, for parameters from first + p on (a layer inside a composite one).
  GradientSlice from(std::size_t p) const { return GradientSlice{chunks, first + p, chunk_begin, chunk_end, nullptr}; }
  // Chunk c of this slice alone.
  GradientSlice only(std::size_t c) const {
    return GradientSlice{chunks, first, chunk_begin + c, chunk_begin + c + 1, observer};
  }
  // The slice's chunks, numbered in the whole GradientChunks.
  Range chunk_range() const { return Range{chunk_begin, chunk_begin + count()}; }
};

}  // namespace parcnn
