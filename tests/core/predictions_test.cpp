// predictions() and argmax_row(): the first highest score of each row, and scores of any other rank
// refused (they were read as nonsense).
#include <parcnn/core/predictions.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(PredictionsTest, TakeTheFirstHighestScoreOfEachRow) {
  Tensor<float> scores(Shape{3, 4});
  scores(0, 2) = 1;
  scores(1, 0) = 2, scores(1, 3) = 2;  // a tie: the first
  scores(2, 1) = -1, scores(2, 0) = -2, scores(2, 2) = -3, scores(2, 3) = -4;
  EXPECT_EQ(predictions<float>(scores), (std::vector<std::size_t>{2, 0, 1}));
  EXPECT_EQ(argmax_row<float>(scores, 1), 0u);
}

TEST(PredictionsTest, CheckTheirShape) {
  EXPECT_EQ(predictions<float>(Tensor<float>(Shape{2, 3})), (std::vector<std::size_t>{0, 0}));
  expect_throw_with([] { predictions<float>(Tensor<float>(Shape{6})); }, {"predictions", "[N, C]", "got [6]"});
  expect_throw_with([] { predictions<float>(Tensor<float>(Shape{1, 2, 3, 4})); }, {"got [1, 2, 3, 4]"});
}

}  // namespace
}  // namespace parcnn::test
