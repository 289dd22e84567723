// The kernels' one-core cost estimates: each term counts, the longer of compute and streaming wins,
// and a double runs vectorised kernels at half the rate of a float.
#include <parcnn/kernels/cost.hpp>

#include <gtest/gtest.h>

namespace parcnn::test {
namespace {

using namespace kernels::cost;

TEST(CostTest, GemmTakesTheLongerOfItsArithmeticAndItsBytes) {
  // fc2 of the letter CNN at batch 1: 262 kFLOP, but 512 KiB of weights to stream.
  const double bytes = 4.0 * (512 * 256 + 512 + 256);
  EXPECT_DOUBLE_EQ(gemm_ns<float>(256, 1, 512, bytes), bytes / rates().stream_bytes_per_ns);
  // At batch 64 the arithmetic dominates.
  EXPECT_DOUBLE_EQ(gemm_ns<float>(256, 64, 512, bytes), 2.0 * 256 * 64 * 512 / rates().gemm_flop_per_ns);
  EXPECT_DOUBLE_EQ(gemm_ns<float>(256, 64, 512, bytes, rates().small_gemm_flop_per_ns),
                   2.0 * 256 * 64 * 512 / rates().small_gemm_flop_per_ns);
  EXPECT_DOUBLE_EQ(gemm_ns<double>(256, 64, 512, 0), 2 * gemm_ns<float>(256, 64, 512, 0));
}

TEST(CostTest, EveryTermOfEveryKernelCounts) {
  EXPECT_DOUBLE_EQ(im2col_ns<float>(10, 0), 10 * rates().im2col_ns_per_segment);
  EXPECT_DOUBLE_EQ(im2col_ns<float>(0, 100), 100 * rates().im2col_ns_per_value);
  EXPECT_DOUBLE_EQ(im2col_ns<double>(0, 100), 2 * im2col_ns<float>(0, 100));
  EXPECT_DOUBLE_EQ(gelu_ns<float>(1000), 1000 * rates().gelu_ns_per_value);
  EXPECT_DOUBLE_EQ(gelu_ns<double>(1000), 2 * gelu_ns<float>(1000));
  EXPECT_DOUBLE_EQ(log_softmax_ns(26), 26 * rates().log_softmax_ns_per_value);
  EXPECT_DOUBLE_EQ(max_pool_ns(13, 0), 13 * rates().max_pool_ns_per_row);
  EXPECT_DOUBLE_EQ(max_pool_ns(0, 52), 52 * rates().max_pool_ns_per_window_value);
  EXPECT_DOUBLE_EQ(copy_ns(1000), 1000 / rates().copy_bytes_per_ns);
  // Per value the kernels differ by far more than their FLOPs say: why Auto needs these rates.
  EXPECT_GT(log_softmax_ns(1000), 10 * gelu_ns<float>(1000));
  EXPECT_GT(gelu_ns<float>(1000), 5 * copy_ns(8000));
}

// The rates in use are the table use_rates last applied; the estimates follow it.
TEST(CostTest, EstimatesFollowTheRatesInUse) {
  const Rates defaults;
  Rates fast = defaults;
  fast.gelu_ns_per_value = defaults.gelu_ns_per_value / 4;
  use_rates(fast);
  EXPECT_DOUBLE_EQ(gelu_ns<float>(1000), 1000 * fast.gelu_ns_per_value);
  use_rates(defaults);
  EXPECT_DOUBLE_EQ(gelu_ns<float>(1000), 1000 * defaults.gelu_ns_per_value);
}

}  // namespace
}  // namespace parcnn::test
