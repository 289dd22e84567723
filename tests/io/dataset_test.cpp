// Labelled IDX data sets and batches: shapes, normalisation, seeded shuffling, mismatched files.
#include <parcnn/io/dataset.hpp>

#include <fstream>

#include <set>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

std::string write_idx(const std::string& name, const std::vector<std::uint32_t>& dims, const std::vector<unsigned char>& data) {
  std::vector<unsigned char> b{0, 0, 8, static_cast<unsigned char>(dims.size())};
  for (std::uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  const std::string path = temp_path(name);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  return path;
}

io::ImageDataset small_dataset() {
  std::vector<unsigned char> pixels(10 * 2 * 3), labels(10);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(i % 256);
  for (std::size_t i = 0; i < 10; ++i) labels[i] = static_cast<unsigned char>(i % 4);
  return io::load_idx_dataset(write_idx("img", {10, 2, 3}, pixels), write_idx("lab", {10}, labels));
}

TEST(DatasetTest, BatchesAreNormalisedNCHW) {
  const io::ImageDataset d = small_dataset();
  EXPECT_EQ(d.count, 10u);
  EXPECT_EQ(d.classes, 4u);
  io::BatchLoader<float> loader(d, 4, io::Normalization{0.5, 0.25}, false, 0);
  EXPECT_EQ(loader.batches(), 3u);
  Tensor<float> x;
  std::vector<std::size_t> y;
  ASSERT_TRUE(loader.next(x, y));
  EXPECT_EQ(x.shape(), (Shape{4, 1, 2, 3}));
  EXPECT_FLOAT_EQ(x(1, 0, 1, 2), float((11 / 255.0 - 0.5) / 0.25));
  EXPECT_EQ(y, (std::vector<std::size_t>{0, 1, 2, 3}));
  ASSERT_TRUE(loader.next(x, y));
  ASSERT_TRUE(loader.next(x, y));
  EXPECT_EQ(x.dim(0), 2u);  // the last batch holds what is left
  EXPECT_FALSE(loader.next(x, y));
}

TEST(DatasetTest, APartOfEachBatchIsThoseRowsOfIt) {
  const io::ImageDataset d = small_dataset();
  io::BatchLoader<float> whole(d, 4, {}, true, 3), part(d, 4, {}, true, 3);
  Tensor<float> x, px;
  std::vector<std::size_t> y, py;
  for (std::size_t b = 0; b < 3; ++b) {
    ASSERT_TRUE(whole.next(x, y));
    const Range rows{1, 3};
    ASSERT_EQ(part.next(px, py, rows), x.dim(0)) << "the batch's size";
    const std::size_t n = std::min<std::size_t>(rows.end, x.dim(0)) - rows.begin;
    ASSERT_EQ(px.dim(0), n);
    EXPECT_TRUE(bitwise<float>(px, TensorView<const float>(x.view()).batch(rows.begin, rows.begin + n))) << "batch " << b;
    EXPECT_EQ(py, std::vector<std::size_t>(y.begin() + 1, y.begin() + std::ptrdiff_t(1 + n)));
  }
  EXPECT_EQ(part.next(px, py, Range{0, 4}), 0u);
  part.start_epoch(0);
  EXPECT_EQ(part.next(px, py, Range{9, 2}), 4u);  // an empty part: no rows, the batch still taken
  EXPECT_EQ(px.dim(0), 0u);
}

TEST(DatasetTest, ShufflingIsSeededPerEpochAndKeepsEveryImageOnce) {
  const io::ImageDataset d = small_dataset();
  auto order = [&](std::uint64_t seed, std::size_t epoch) {
    io::BatchLoader<double> loader(d, 10, {}, true, seed);
    loader.start_epoch(epoch);
    Tensor<double> x;
    std::vector<std::size_t> y;
    loader.next(x, y);
    std::vector<double> first_pixels;
    for (std::size_t n = 0; n < 10; ++n) first_pixels.push_back(x(n, 0, 0, 0));
    return first_pixels;
  };
  EXPECT_EQ(order(1, 0), order(1, 0));
  EXPECT_NE(order(1, 0), order(1, 1));
  EXPECT_NE(order(1, 0), order(2, 0));
  const auto o = order(3, 2);
  EXPECT_EQ(std::set<double>(o.begin(), o.end()).size(), 10u);
}

TEST(DatasetTest, MismatchedFilesAreErrors) {
  const std::string img = write_idx("img2", {3, 2, 2}, std::vector<unsigned char>(12));
  expect_throw_with<IoError>([&] { io::load_idx_dataset(img, write_idx("lab2", {4}, std::vector<unsigned char>(4))); },
                             {"4 labels for 3 images"});
  expect_throw_with<IoError>([&] { io::load_idx_dataset(write_idx("flat", {12}, std::vector<unsigned char>(12)), img); },
                             {"expected images [N, rows, cols]"});
  io::ImageDataset d = small_dataset();
  d.truncate(3);
  EXPECT_EQ(d.count, 3u);
  EXPECT_EQ(d.pixels.size(), 18u);
}

}  // namespace
}  // namespace parcnn::test
