// GradientChunks: chunks of a fixed number of images, each with buffers of its own (their sums in
// chunk order: tests/train/gradient_reduction_test.cpp).
#include <parcnn/core/gradient_chunks.hpp>
#include <parcnn/parallel/executor.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(GradientChunksTest, CutsTheBatchIntoChunksOfFixedSize) {
  GradientChunks<float> chunks;
  chunks.plan({Shape{3, 4}, Shape{5}}, 20, 3);
  EXPECT_EQ(chunks.chunks(), 7u);
  EXPECT_EQ(chunks.parameters(), 2u);
  EXPECT_EQ(chunks.images(0).begin, 0u);
  EXPECT_EQ(chunks.images(6).begin, 18u);
  EXPECT_EQ(chunks.images(6).end, 20u);
  EXPECT_EQ(chunks.grad(6, 1).shape(), Shape{5});
  for (std::size_t c = 0; c < chunks.chunks(); ++c)  // planned buffers start at zero
    for (float v : chunks.grad(c, 0)) EXPECT_EQ(v, 0.0f);
  expect_throw_with<ConfigError>([&] { chunks.plan({Shape{2}}, 4, 0); }, {"at least 1"});
}

TEST(GradientChunksTest, ASliceOfOneChunkNumbersItsImagesFromZero) {
  GradientChunks<float> chunks;
  chunks.plan({Shape{3, 4}, Shape{5}, Shape{2}}, 20, 3);
  const GradientSlice<float> all{&chunks, 0};
  EXPECT_EQ(all.count(), 7u);
  EXPECT_EQ(all.images(6).begin, 18u);
  const GradientSlice<float> last = all.only(6);  // images 18 and 19 of the batch
  EXPECT_EQ(last.count(), 1u);
  EXPECT_EQ(last.images(0).begin, 0u);
  EXPECT_EQ(last.images(0).end, 2u);
  EXPECT_EQ(last.grad(0, 1).data(), chunks.grad(6, 1).data());
  const GradientSlice<float> inner = last.from(1);  // a sub-layer's parameters, the same chunk
  EXPECT_EQ(inner.count(), 1u);
  EXPECT_EQ(inner.images(0).end, 2u);
  EXPECT_EQ(inner.grad(0, 1).data(), chunks.grad(6, 2).data());
  EXPECT_EQ(all.only(2).images(0).begin, 0u);
  EXPECT_EQ(all.only(2).images(0).end, 3u);
  EXPECT_EQ(all.only(2).grad(0, 0).data(), chunks.grad(2, 0).data());
}

TEST(GradientChunksTest, APlanWithoutZeroLeavesEachChunkToClearItsOwn) {
  GradientChunks<float> chunks;
  chunks.plan({Shape{3, 4}, Shape{5}}, 6, 3);
  for (std::size_t c = 0; c < 2; ++c)
    for (std::size_t p = 0; p < 2; ++p) std::fill(chunks.grad(c, p).begin(), chunks.grad(c, p).end(), 2.0f);
  chunks.plan({Shape{3, 4}, Shape{5}}, 6, 3, /*zero=*/false);
  EXPECT_EQ(chunks.grad(1, 1)(4), 2.0f);
  chunks.zero_chunk(1);
  for (std::size_t p = 0; p < 2; ++p) {
    for (float v : chunks.grad(1, p)) EXPECT_EQ(v, 0.0f);
    for (float v : chunks.grad(0, p)) EXPECT_EQ(v, 2.0f);
  }
}

}  // namespace
}  // namespace parcnn::test
