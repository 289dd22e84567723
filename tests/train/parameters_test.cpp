// Parameters: one gradient per model parameter, and the element ranges an elementwise pass runs over.
#include <parcnn/train/parameters.hpp>

#include <array>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(ElementRangesTest, CutEachTensorAtMultiplesOfTheBlock) {
  const std::vector<ElementRange> r = element_ranges({5, 0, 8, 1}, 4);
  const std::vector<std::array<std::size_t, 3>> expected{{0, 0, 4}, {0, 4, 1}, {2, 0, 4}, {2, 4, 4}, {3, 0, 1}};
  ASSERT_EQ(r.size(), expected.size());
  for (std::size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(r[i].tensor, expected[i][0]) << i;
    EXPECT_EQ(r[i].begin, expected[i][1]) << i;
    EXPECT_EQ(r[i].count, expected[i][2]) << i;
  }
  EXPECT_TRUE(element_ranges({}, 4).empty());
}

TEST(ParametersTest, PairEveryParameterWithAZeroGradientAndCoverItsElements) {
  Sequential<float> model = models::letter_cnn<float>(26, 1);
  Parameters<float> params(model);
  ASSERT_EQ(params.size(), 12u);
  EXPECT_TRUE(params.belong_to(model));
  std::vector<std::size_t> covered(params.size(), 0);
  for (const ElementRange& r : params.ranges()) {
    ASSERT_LT(r.tensor, params.size());
    EXPECT_EQ(r.begin, covered[r.tensor]);  // in order, without gaps
    EXPECT_LE(r.count, update_block);
    covered[r.tensor] += r.count;
  }
  for (std::size_t p = 0; p < params.size(); ++p) {
    EXPECT_EQ(covered[p], params[p].value->size()) << params[p].name;
    EXPECT_EQ(params[p].grad.shape(), params[p].value->shape()) << params[p].name;
    for (float g : params[p].grad) ASSERT_EQ(g, 0.0f);
  }
  EXPECT_EQ(params.matching("fc").size(), 6u);
}

}  // namespace
}  // namespace parcnn::test
