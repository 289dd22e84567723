// GradientChunks: chunks of a fixed number of images, each with buffers of its own, summed in chunk order
// into the outputs — the same bits as the plain per-element chain, on any number of threads.
#include <parcnn/core/gradient_chunks.hpp>
#include <parcnn/parallel/threads.hpp>

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

template <class T>
void check_reduce_is_the_chain_in_chunk_order() {
  // More elements than a reduce block (32,768) and than a tile (4,096), sizes that end mid-tile.
  const std::vector<Shape> shapes{Shape{9000}, Shape{7, 3}, Shape{1}, Shape{3, 13001}};
  GradientChunks<T> chunks;
  chunks.plan(shapes, 20, 3);
  std::uint64_t seed = 30;
  for (std::size_t c = 0; c < chunks.chunks(); ++c)
    for (std::size_t p = 0; p < shapes.size(); ++p) {
      const Tensor<T> r = random_tensor<T>(shapes[p], seed++, -1e3, 1e3);  // wide range: order shows in the bits
      std::copy(r.begin(), r.end(), chunks.grad(c, p).data());
    }
  std::vector<Tensor<T>> start, expected;
  for (std::size_t p = 0; p < shapes.size(); ++p) {
    start.push_back(random_tensor<T>(shapes[p], seed++));
    Tensor<T> e = start.back();
    for (std::size_t i = 0; i < e.size(); ++i) {
      T sum = chunks.grad(0, p).data()[i];
      for (std::size_t c = 1; c < chunks.chunks(); ++c) sum += chunks.grad(c, p).data()[i];
      e.data()[i] += sum;
    }
    expected.push_back(e);
  }
  for (std::size_t threads : thread_counts()) {
    std::vector<Tensor<T>> out = start;
    std::vector<TensorView<T>> views;
    for (auto& t : out) views.push_back(t.view());
    with_threads(threads, [&] { chunks.reduce(views); });
    for (std::size_t p = 0; p < shapes.size(); ++p)
      EXPECT_TRUE(bitwise<T>(out[p], expected[p])) << "parameter " << p << ", " << threads << " threads";
  }
  // sum writes the chain alone, over any range of elements (here one that starts and ends mid-tile).
  const std::size_t p = 3, begin = 4093, count = 9000;
  std::vector<T> total(count, T(7));
  chunks.sum(p, begin, count, total.data());
  for (std::size_t i = 0; i < count; ++i) {
    T sum = chunks.grad(0, p).data()[begin + i];
    for (std::size_t c = 1; c < chunks.chunks(); ++c) sum += chunks.grad(c, p).data()[begin + i];
    ASSERT_EQ(total[i], sum) << "element " << begin + i;
  }
  expect_throw_with<ShapeError>([&] { chunks.sum(p, 39000, 4, total.data()); }, {"[39000, 39004)", "parameter 3"});
  expect_throw_with<ShapeError>([&] { chunks.sum(4, 0, 1, total.data()); }, {"parameter 4 of 4"});
}

TEST(GradientChunksTest, ReduceIsTheChainInChunkOrderFloat) { check_reduce_is_the_chain_in_chunk_order<float>(); }
TEST(GradientChunksTest, ReduceIsTheChainInChunkOrderDouble) { check_reduce_is_the_chain_in_chunk_order<double>(); }

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

TEST(GradientChunksTest, ReduceRejectsOutputsOfOtherShapes) {
  GradientChunks<float> chunks;
  chunks.plan({Shape{3, 4}, Shape{5}}, 8, 4);
  Tensor<float> a(Shape{3, 4}), b(Shape{6});
  expect_throw_with([&] { chunks.reduce({a.view()}); }, {"1 outputs for 2 parameters"});
  expect_throw_with([&] { chunks.reduce({a.view(), b.view()}); }, {"parameter 1", "[5]", "[6]"});
}

}  // namespace
}  // namespace parcnn::test
