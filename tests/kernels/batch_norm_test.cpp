// The batch-norm kernels against plain loops in long double: a channel's moments, and the sums its
// backward pass reads — over the batch and over each chunk of images, in one pass — on maps of 1 to
// 53 values (whole vectors, pairs of them and tails), odd channel counts, batch 1 and 7; and through a
// ReLU's mask, against the masked gradient.
#include <parcnn/kernels/batch_norm.hpp>
#include <parcnn/kernels/relu.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class BatchNormKernelTest : public ::testing::Test {};
TYPED_TEST_SUITE(BatchNormKernelTest, Scalars);

struct Sums {
  long double dy_xhat = 0, dy = 0;
};

// Σ(dy·(x − mean)·invstd) and Σdy of channel c over images [first, last), in long double.
template <class T>
Sums reference_sums(const Tensor<T>& x, const Tensor<T>& dy, std::size_t c, std::size_t first, std::size_t last,
                    double mean, double invstd) {
  const std::size_t C = x.dim(1), HW = x.dim(2) * x.dim(3);
  Sums s;
  for (std::size_t n = first; n < last; ++n)
    for (std::size_t i = 0; i < HW; ++i) {
      const std::size_t at = (n * C + c) * HW + i;
      s.dy_xhat += (long double)dy.data()[at] * ((long double)x.data()[at] - mean) * invstd;
      s.dy += dy.data()[at];
    }
  return s;
}

TYPED_TEST(BatchNormKernelTest, MomentsMatchTheFormula) {
  using T = TypeParam;
  std::uint64_t seed = 1;
  for (const Shape& shape : {Shape{1, 3, 1, 1}, Shape{7, 5, 3, 3}, Shape{2, 3, 4, 8}, Shape{3, 9, 7, 7}, Shape{1, 1, 53, 1}}) {
    const Tensor<T> x = random_tensor<T>(shape, seed++, -2, 3);
    const std::size_t N = shape[0], C = shape[1], HW = shape[2] * shape[3];
    for (std::size_t c = 0; c < C; ++c) {
      long double sum = 0, squares = 0;
      for (std::size_t n = 0; n < N; ++n)
        for (std::size_t i = 0; i < HW; ++i) sum += x.data()[(n * C + c) * HW + i];
      const long double mean = sum / (N * HW);
      for (std::size_t n = 0; n < N; ++n)
        for (std::size_t i = 0; i < HW; ++i) {
          const long double d = x.data()[(n * C + c) * HW + i] - mean;
          squares += d * d;
        }
      double m = 0, v = 0;
      kernels::batch_norm_moments(x.data(), N, C, HW, c, m, v);
      EXPECT_NEAR(m, double(mean), 10 * tolerance<T>()) << shape.str() << " channel " << c;
      EXPECT_NEAR(v, double(squares / (N * HW)), 10 * tolerance<T>()) << shape.str() << " channel " << c;
    }
  }
}

// The batch's sums and each chunk's from one pass: against the formula, and the batch's the same bits
// whatever the chunks (each image's map is summed alone, the images added in order).
TYPED_TEST(BatchNormKernelTest, BackwardSumsOfTheBatchAndOfEachChunk) {
  using T = TypeParam;
  std::uint64_t seed = 20;
  for (const Shape& shape : {Shape{1, 3, 1, 1}, Shape{7, 5, 3, 3}, Shape{7, 3, 4, 8}, Shape{4, 9, 7, 7}, Shape{7, 2, 53, 1}}) {
    const Tensor<T> x = random_tensor<T>(shape, seed++, -2, 3), dy = random_tensor<T>(shape, seed++, -1, 1);
    const std::size_t N = shape[0], C = shape[1], HW = shape[2] * shape[3];
    for (const std::vector<std::size_t>& ends : {std::vector<std::size_t>{N}, std::vector<std::size_t>{1, N},
                                                 std::vector<std::size_t>{N / 2, N / 2 + 1, N}}) {
      for (std::size_t c = 0; c < C; ++c) {
        const double mean = 0.25 * double(c), invstd = 1.5;
        std::vector<Sums> chunks(ends.size());
        double dy_xhat = 0, dy_sum = 0;
        kernels::batch_norm_sums(
            x.data(), dy.data(), static_cast<const T*>(nullptr), N, C, HW, c, mean, invstd, ends.size(),
            [&](std::size_t k) { return ends[k]; },
            [&](std::size_t k, double a, double b) { chunks[k] = Sums{a, b}; }, dy_xhat, dy_sum);
        const Sums all = reference_sums(x, dy, c, 0, N, mean, invstd);
        EXPECT_NEAR(dy_xhat, double(all.dy_xhat), 100 * tolerance<T>()) << shape.str() << " channel " << c;
        EXPECT_NEAR(dy_sum, double(all.dy), 100 * tolerance<T>()) << shape.str() << " channel " << c;
        double whole_xhat = 0, whole_dy = 0;
        kernels::batch_norm_sums(
            x.data(), dy.data(), static_cast<const T*>(nullptr), N, C, HW, c, mean, invstd, 1,
            [&](std::size_t) { return N; },
            [](std::size_t, double, double) {}, whole_xhat, whole_dy);
        EXPECT_EQ(dy_xhat, whole_xhat);
        EXPECT_EQ(dy_sum, whole_dy);
        for (std::size_t k = 0; k < ends.size(); ++k) {
          const Sums want = reference_sums(x, dy, c, k == 0 ? 0 : ends[k - 1], ends[k], mean, invstd);
          EXPECT_NEAR(chunks[k].dy_xhat, double(want.dy_xhat), 100 * tolerance<T>()) << "chunk " << k;
          EXPECT_NEAR(chunks[k].dy, double(want.dy), 100 * tolerance<T>()) << "chunk " << k;
        }
      }
    }
  }
}

// Through a ReLU's mask (its output: > 0 where it passed its input) the sums and the input gradient
// have the bits of the same kernels on the gradient relu_backward gives.
TYPED_TEST(BatchNormKernelTest, ThroughAReluMaskAsOnTheMaskedGradient) {
  using T = TypeParam;
  std::uint64_t seed = 40;
  for (const Shape& shape : {Shape{1, 3, 1, 1}, Shape{7, 5, 3, 3}, Shape{4, 9, 7, 7}, Shape{7, 2, 53, 1}}) {
    const Tensor<T> x = random_tensor<T>(shape, seed++, -2, 3), dy = random_tensor<T>(shape, seed++, -1, 1);
    Tensor<T> relu_out = random_tensor<T>(shape, seed++, -1, 1), masked(shape);
    kernels::relu(relu_out.data(), relu_out.data(), relu_out.size());
    kernels::relu_backward(relu_out.data(), dy.data(), masked.data(), dy.size());
    const std::size_t N = shape[0], C = shape[1], HW = shape[2] * shape[3];
    for (std::size_t c = 0; c < C; ++c) {
      const auto sums = [&](const T* d, const T* mask, double& a, double& b) {
        kernels::batch_norm_sums(x.data(), d, mask, N, C, HW, c, 0.1, 1.5, 1, [&](std::size_t) { return N; },
                                 [](std::size_t, double, double) {}, a, b);
      };
      double a1, b1, a2, b2;
      sums(dy.data(), relu_out.data(), a1, b1);
      sums(masked.data(), static_cast<const T*>(nullptr), a2, b2);
      EXPECT_EQ(a1, a2) << shape.str() << " channel " << c;
      EXPECT_EQ(b1, b2) << shape.str() << " channel " << c;
      Tensor<T> dx1(shape, T(0)), dx2(shape, T(0));
      kernels::batch_norm_input_gradient(x.data(), dy.data(), relu_out.data(), N, C, HW, c, 0.1, 1.5, 0.8, true, a1, b1,
                                         dx1.data());
      kernels::batch_norm_input_gradient(x.data(), masked.data(), static_cast<const T*>(nullptr), N, C, HW, c, 0.1, 1.5,
                                         0.8, true, a2, b2, dx2.data());
      EXPECT_TRUE(bitwise<T>(dx1, dx2)) << shape.str() << " channel " << c;
    }
    // A mask that passes nothing leaves no gradient.
    Tensor<T> none(shape, T(0));
    double a, b;
    kernels::batch_norm_sums(x.data(), dy.data(), none.data(), N, C, HW, 0, 0.1, 1.5, 1, [&](std::size_t) { return N; },
                             [](std::size_t, double, double) {}, a, b);
    EXPECT_EQ(a, 0.0);
    EXPECT_EQ(b, 0.0);
  }
}

}  // namespace
}  // namespace parcnn::test
