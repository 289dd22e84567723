// parcnn/io/dataset.hpp — labelled images from IDX files, and shuffled, normalised NCHW batches.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/core/range.hpp"
#include "parcnn/core/tensor.hpp"
#include "parcnn/io/idx.hpp"

namespace parcnn::io {

struct ImageDataset {
  std::size_t count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  // count × rows × cols, 0..255
  std::vector<std::uint8_t> labels;  // count
  std::size_t classes = 0;           // 1 + the largest label

  // Throws ConfigError naming `source`, the first image whose label is not one of `model_classes`
  // (a model's outputs) and that label: a label past them would index outside every per-class table.
  void check_labels(std::size_t model_classes, const std::string& source) const {
    for (std::size_t i = 0; i < labels.size(); ++i)
      if (labels[i] >= model_classes)
        throw ConfigError(source + ": image " + std::to_string(i) + " has label " + std::to_string(labels[i]) +
                          ", not one of the model's " + std::to_string(model_classes) + " classes (0 to " +
                          std::to_string(model_classes - 1) + ")");
  }

  // The first `n` images only (all when n is 0 or larger than count).
  void truncate(std::size_t n) {
    if (n == 0 || n >= count) return;
    count = n;
    pixels.resize(n * rows * cols);
    labels.resize(n);
  }
};

// An images file [N, rows, cols] and a labels file [N] of the same N.
inline ImageDataset load_idx_dataset(const std::string& images_path, const std::string& labels_path) {
  IdxArray images = read_idx(images_path), labels = read_idx(labels_path);
  if (images.dims.size() != 3)
    throw IoError(images_path + ": expected images [N, rows, cols], found " + std::to_string(images.dims.size()) +
                  " dimensions");
  if (labels.dims.size() != 1) throw IoError(labels_path + ": expected labels [N], found " + std::to_string(labels.dims.size()) + " dimensions");
  if (labels.dims[0] != images.dims[0])
    throw IoError(labels_path + ": " + std::to_string(labels.dims[0]) + " labels for " + std::to_string(images.dims[0]) +
                  " images in " + images_path);
  ImageDataset d;
  d.count = images.dims[0];
  d.rows = images.dims[1];
  d.cols = images.dims[2];
  d.pixels = std::move(images.data);
  d.labels = std::move(labels.data);
  for (std::uint8_t l : d.labels) d.classes = std::max<std::size_t>(d.classes, std::size_t(l) + 1);
  return d;
}

// Pixel scaling: x = (pixel / 255 − mean) / std.
struct Normalization {
  double mean = 0.0, std = 1.0;
};

// The images of a dataset in (optionally shuffled) batches, as [B, 1, rows, cols] tensors.
template <class T>
class BatchLoader {
 public:
  BatchLoader(const ImageDataset& data, std::size_t batch, Normalization norm, bool shuffle, std::uint64_t seed)
      : data_(data), batch_(batch), norm_(norm), shuffle_(shuffle), seed_(seed), order_(data.count) {
    if (batch == 0) throw ConfigError("BatchLoader: the batch size must be at least 1");
    if (!(norm.std > 0)) throw ConfigError("BatchLoader: the normalisation std must be positive");
    start_epoch(0);
  }

  // Restarts at the first batch; with shuffling, epoch e always gives the same order for the same seed.
  void start_epoch(std::size_t epoch) {
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    if (shuffle_) {  // Fisher–Yates on mt19937_64, whose output the standard fixes: the same everywhere
      std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + epoch);
      for (std::size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng() % i]);
    }
    next_ = 0;
  }

  std::size_t batches() const { return (data_.count + batch_ - 1) / batch_; }
  // The batches next() has still to give this epoch.
  std::size_t batches_left() const { return (data_.count - next_ + batch_ - 1) / batch_; }

  // The next batch (the last may be smaller); false at the end of the epoch.
  bool next(Tensor<T>& images, std::vector<std::size_t>& labels) {
    return next(images, labels, Range{0, std::size_t(-1)});
  }

  // Rows `part` of the next batch (clipped to its size; a process of a distributed run reads its own
  // shard, every process the same global order): the batch's size, or 0 at the end of the epoch.
  std::size_t next(Tensor<T>& images, std::vector<std::size_t>& labels, Range part) {
    if (next_ >= data_.count) return 0;
    const std::size_t n = std::min(batch_, data_.count - next_), plane = data_.rows * data_.cols;
    const std::size_t first = std::min(part.begin, n), rows = std::max(std::min(part.end, n), first) - first;
    images.resize(Shape{rows, 1, data_.rows, data_.cols});
    labels.resize(rows);
    const double scale = 1.0 / (255.0 * norm_.std), shift = norm_.mean / norm_.std;
    for (std::size_t i = 0; i < rows; ++i) {
      const std::size_t src = order_[next_ + first + i];
      const std::uint8_t* px = data_.pixels.data() + src * plane;
      T* dst = images.data() + i * plane;
      for (std::size_t j = 0; j < plane; ++j) dst[j] = T(double(px[j]) * scale - shift);
      labels[i] = data_.labels[src];
    }
    next_ += n;
    return n;
  }

 private:
  const ImageDataset& data_;
  std::size_t batch_;
  Normalization norm_;
  bool shuffle_;
  std::uint64_t seed_;
  std::vector<std::size_t> order_;
  std::size_t next_ = 0;
};

}  // namespace parcnn::io
