// Tensor and TensorView: storage, alignment, access, views without copies, reshape, Eigen maps,
// and the Workspace that layers run in.
#include <parcnn/core/eigen_map.hpp>
#include <parcnn/core/tensor.hpp>
#include <parcnn/core/workspace.hpp>

#include <cstdint>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class TensorTest : public ::testing::Test {};
TYPED_TEST_SUITE(TensorTest, Scalars);

TYPED_TEST(TensorTest, StorageIsZeroedContiguousAndAligned) {
  using T = TypeParam;
  for (const Shape& s : {Shape{1}, Shape{7, 3}, Shape{3, 5, 7}, Shape{2, 3, 5, 7}}) {
    Tensor<T> t(s);
    EXPECT_EQ(t.size(), s.numel());
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data()) % 64, 0u);
    for (T v : t) EXPECT_EQ(v, T(0));
  }
  Tensor<T> filled(Shape{2, 2}, T(1.5));
  for (T v : filled) EXPECT_EQ(v, T(1.5));
  EXPECT_TRUE(Tensor<T>().empty());
}

TYPED_TEST(TensorTest, ElementAccessIsRowMajorNCHW) {
  using T = TypeParam;
  Tensor<T> t(Shape{2, 3, 4, 5});
  for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = T(i);
  EXPECT_EQ(t(1, 2, 3, 4), T(119));
  EXPECT_EQ(t(0, 1, 0, 2), T(22));
  EXPECT_EQ(t.at(1, 0, 0, 1), T(61));
  EXPECT_THROW(t.at(2, 0, 0, 0), std::out_of_range);
  EXPECT_THROW(t.at(0, 0, 0), std::out_of_range);
  Tensor<T> m(Shape{3, 4});
  m(2, 1) = 7;
  EXPECT_EQ(m.data()[9], T(7));
}

TYPED_TEST(TensorTest, CopiesAreDeepAndMovesAreCheap) {
  using T = TypeParam;
  Tensor<T> a(Shape{4, 4}, T(1));
  Tensor<T> b = a;
  b(0, 0) = 2;
  EXPECT_EQ(a(0, 0), T(1));
  const T* storage = b.data();
  Tensor<T> c = std::move(b);
  EXPECT_EQ(c.data(), storage);
}

TYPED_TEST(TensorTest, BatchViewsShareMemory) {
  using T = TypeParam;
  Tensor<T> t(Shape{7, 2, 3, 3});
  TensorView<T> v = t.batch(2, 5);
  EXPECT_EQ(v.shape(), (Shape{3, 2, 3, 3}));
  EXPECT_EQ(v.data(), t.data() + 2 * 18);
  v(1, 1, 2, 2) = 9;
  EXPECT_EQ(t(3, 1, 2, 2), T(9));
  EXPECT_THROW(t.batch(5, 8), ShapeError);
  EXPECT_THROW(t.batch(4, 3), ShapeError);
  TensorView<const T> cv = v;  // mutable view → read-only view
  EXPECT_EQ(cv(1, 1, 2, 2), T(9));
}

TYPED_TEST(TensorTest, ReshapeAndFlattenKeepElementsAndCheckCounts) {
  using T = TypeParam;
  Tensor<T> t(Shape{2, 3, 2, 2});
  for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = T(i);
  EXPECT_EQ(t.flatten().shape(), (Shape{2, 12}));
  EXPECT_EQ(t.flatten()(1, 5), T(17));
  EXPECT_EQ(t.reshape(Shape{6, 4})(5, 3), T(23));
  EXPECT_THROW(t.reshape(Shape{5, 5}), ShapeError);
  Tensor<T> copy(t.reshape(Shape{24}));
  EXPECT_EQ(copy.shape(), (Shape{24}));
  EXPECT_EQ(copy(23), T(23));
}

TYPED_TEST(TensorTest, EigenMapSeesTheSameMemory) {
  using T = TypeParam;
  Tensor<T> w(Shape{4, 2, 3, 3});
  auto m = as_matrix<T>(w);
  EXPECT_EQ(m.rows(), 4);
  EXPECT_EQ(m.cols(), 18);
  m(3, 17) = 5;
  EXPECT_EQ(w(3, 1, 2, 2), T(5));
  const Tensor<T>& cw = w;
  EXPECT_EQ(as_matrix<const T>(cw)(3, 17), T(5));
}

TYPED_TEST(TensorTest, ResizeReusesStorageWhenItFits) {
  using T = TypeParam;
  Tensor<T> t(Shape{8, 8});
  const T* storage = t.data();
  t.resize(Shape{4, 4});
  EXPECT_EQ(t.data(), storage);
  EXPECT_EQ(t.shape(), (Shape{4, 4}));
  t.resize(Shape{16, 16});
  EXPECT_EQ(t.size(), 256u);
}

TEST(WorkspaceTest, ScratchPerWorkerGrowsOnlyWhenAsked) {
  Workspace<float> ws;
  ws.reserve_scratch(3, 100);
  float* a = ws.scratch(0);
  float* b = ws.scratch(2);
  EXPECT_NE(a, b);
  ws.reserve_scratch(3, 50);
  EXPECT_EQ(ws.scratch(0), a);  // smaller request: same memory
  float* s = ws.shared(1000);
  EXPECT_EQ(ws.shared(10), s);
  EXPECT_EQ(&ws.child(2), &ws.child(2));
}

// A tensor whose byte count does not fit is refused before anything is allocated.
TEST(TensorTest, StorageThatCannotExistIsRefused) {
  EXPECT_THROW(AlignedBuffer<double>(std::size_t(-1) / 4), std::bad_array_new_length);
  EXPECT_THROW(Tensor<float>(Shape{std::size_t(1) << 40, std::size_t(1) << 40}), ShapeError);
}

}  // namespace
}  // namespace parcnn::test
