// The chunks' reduction: reduce_chunks gives the per-element chain in chunk order (GradientChunks::sum)
// added to the outputs, the same bits on any number of threads; reduce_and_update gives the bits of
// zero_grad, reduce_chunks and the optimizer's step in turn.
#include <parcnn/train/gradient_reduction.hpp>
#include <parcnn/parallel/executor.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

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
    with_threads(threads, [&] { reduce_chunks(chunks, views); });
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

TEST(GradientReductionTest, ReduceChunksIsTheChainInChunkOrderFloat) { check_reduce_is_the_chain_in_chunk_order<float>(); }
TEST(GradientReductionTest, ReduceChunksIsTheChainInChunkOrderDouble) { check_reduce_is_the_chain_in_chunk_order<double>(); }

TEST(GradientReductionTest, ReduceChunksRejectsOutputsOfOtherShapes) {
  GradientChunks<float> chunks;
  chunks.plan({Shape{3, 4}, Shape{5}}, 8, 4);
  Tensor<float> a(Shape{3, 4}), b(Shape{6});
  expect_throw_with([&] { reduce_chunks(chunks, {a.view()}); }, {"1 outputs for 2 parameters"});
  expect_throw_with([&] { reduce_chunks(chunks, {a.view(), b.view()}); }, {"parameter 1", "[5]", "[6]"});
}

// The step's last pass against zero_grad, reduce and step in turn, on 1 thread: the same gradients and
// weights, bit for bit, with any thread count, over two steps (SGD's momentum and Adam after their first).
TEST(GradientReductionTest, ReduceAndUpdateIsZeroGradReduceAndStep) {
  for (bool adam : {false, true})
    for (std::size_t threads : thread_counts()) {
      Sequential<float> a = models::letter_cnn<float>(26, 2), b = models::letter_cnn<float>(26, 2);
      Parameters<float> pa(a), pb(b);
      SGD<float> sa(pa.all(), SgdOptions{0.05, 0.9}), sb(pb.all(), SgdOptions{0.05, 0.9});
      Adam<float> aa(pa.all()), ab(pb.all());
      Optimizer<float>& oa = adam ? static_cast<Optimizer<float>&>(aa) : sa;
      Optimizer<float>& ob = adam ? static_cast<Optimizer<float>&>(ab) : sb;
      GradientChunks<float> chunks;
      chunks.plan(a.parameter_shapes(), 13, 4);
      for (std::uint64_t s = 0; s < 2; ++s) {
        for (std::size_t c = 0; c < chunks.chunks(); ++c)
          for (std::size_t p = 0; p < pa.size(); ++p) {
            const Tensor<float> g = random_tensor<float>(pa[p].value->shape(), 100 * s + 13 * c + p, -1e3, 1e3);
            std::copy(g.begin(), g.end(), chunks.grad(c, p).data());
          }
        for (auto& p : pa) std::fill(p.grad.begin(), p.grad.end(), 5.0f);  // overwritten, not added to
        Executor(threads).run([&] { reduce_and_update(chunks, pa, oa); });
        ob.zero_grad();
        reduce_chunks(chunks, pb.grads());
        ob.step();
        for (std::size_t p = 0; p < pa.size(); ++p) {
          ASSERT_TRUE(bitwise<float>(pa[p].grad, pb[p].grad)) << pa[p].name << ", step " << s << ", " << threads;
          ASSERT_TRUE(bitwise<float>(*pa[p].value, *pb[p].value)) << pa[p].name << ", step " << s << ", " << threads;
        }
      }
      GradientChunks<float> fewer;
      fewer.plan({Shape{3}}, 4, 4);
      expect_throw_with<ShapeError>([&] { reduce_and_update(fewer, pa, oa); }, {"1 parameters for 12"});
    }
}

}  // namespace
}  // namespace parcnn::test
