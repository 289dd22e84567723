// fold_batch_norm: a convolution with a BatchNorm2d folded in against the two in evaluation mode (with
// and without the convolution's bias, grouped and strided), a whole ResNet with its blocks folded, the
// layers and names the folded model keeps, and a BatchNorm2d that does not fit its convolution.
#include <parcnn/layers/fold_batch_norm.hpp>
#include <parcnn/models/small_resnet.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

template <class T>
class FoldBatchNormTest : public ::testing::Test {};
TYPED_TEST_SUITE(FoldBatchNormTest, Scalars);

// Random affine parameters and running statistics for every BatchNorm2d of `model`.
template <class T>
void randomise_batch_norms(Sequential<T>& model, std::uint64_t seed) {
  for (const NamedParameter<T>& p : model.parameters())
    if (p.name.find("bn") != std::string::npos || p.name.find("shortcut.1") != std::string::npos) {
      const bool scale = p.name.size() >= 6 && p.name.compare(p.name.size() - 6, 6, "weight") == 0;
      fill_uniform<T>(*p.tensor, scale ? 0.5 : -0.5, scale ? 1.5 : 0.5, seed++);
    }
  for (const NamedParameter<T>& b : model.buffers()) {
    if (b.name.find("running_mean") != std::string::npos) fill_uniform<T>(*b.tensor, -0.3, 0.3, seed++);
    if (b.name.find("running_var") != std::string::npos) fill_uniform<T>(*b.tensor, 0.5, 2.0, seed++);
  }
}

std::vector<std::string> names_of(Sequential<float>& model) {
  std::vector<std::string> names;
  for (const NamedParameter<float>& p : model.parameters()) names.push_back(p.name);
  return names;
}

TYPED_TEST(FoldBatchNormTest, AConvolutionAndItsBatchNormAreOneConvolution) {
  using T = TypeParam;
  struct Case {
    std::size_t in_c, out_c;
    Conv2dOptions options;
  };
  std::uint64_t seed = 1;
  for (const Case& c : {Case{3, 5, Conv2dOptions().padding(1)}, Case{4, 6, Conv2dOptions().stride(2).bias(false)},
                        Case{4, 8, Conv2dOptions().groups(4).padding(1).dilation(2)}}) {
    Sequential<T> model;
    model.add("conv", Conv2d<T>(c.in_c, c.out_c, 3, c.options)).add("bn", BatchNorm2d<T>(c.out_c));
    model.add("relu", ReLU<T>());
    randomise_batch_norms(model, seed);
    model.eval();
    const Sequential<T> folded = fold_batch_norm(model);
    SCOPED_TRACE(model[0].name());
    ASSERT_EQ(folded.size(), 2u);
    EXPECT_EQ(folded.layer_name(0), "conv");
    EXPECT_TRUE(static_cast<const Conv2d<T>&>(folded[0]).has_bias());
    EXPECT_FALSE(folded.training());
    const Tensor<T> x = random_tensor<T>(Shape{7, c.in_c, 9, 8}, seed + 10, -2, 2);
    EXPECT_TRUE(near<T>(folded.forward(x, strategy::Serial{}), model.forward(x, strategy::Serial{}), tolerance<T>()));
    expect_strategies_match_sequential<T>(folded, x);
    seed += 20;
  }
}

TEST(FoldBatchNormResNetTest, FoldsEveryBlockAndKeepsTheModelsValues) {
  Sequential<float> model = models::small_resnet<float>(10, 1, 8, 3);
  randomise_batch_norms(model, 5);
  model.eval();
  Sequential<float> folded = fold_batch_norm(model);
  // Every BatchNorm2d follows a convolution: only the convolutions (now with biases) and fc remain.
  EXPECT_EQ(names_of(folded),
            (std::vector<std::string>{"conv1.weight", "conv1.bias", "block1.conv1.weight", "block1.conv1.bias",
                                      "block1.conv2.weight", "block1.conv2.bias", "block2.conv1.weight",
                                      "block2.conv1.bias", "block2.conv2.weight", "block2.conv2.bias",
                                      "block2.shortcut.0.weight", "block2.shortcut.0.bias", "block3.conv1.weight",
                                      "block3.conv1.bias", "block3.conv2.weight", "block3.conv2.bias",
                                      "block3.shortcut.0.weight", "block3.shortcut.0.bias", "fc.weight", "fc.bias"}));
  EXPECT_TRUE(folded.buffers().empty());
  const Tensor<float> x = random_tensor<float>(Shape{5, 1, 28, 28}, 9, 0, 1);
  EXPECT_TRUE(near<float>(folded.forward(x, strategy::Serial{}), model.forward(x, strategy::Serial{}), 1e-5));
  // The model itself is untouched.
  EXPECT_EQ(model.buffers().size(), 3u * 9u);
}

TEST(FoldBatchNormErrorTest, ABatchNormOfOtherChannelsIsAnErrorNamingBoth) {
  Sequential<float> model;
  model.add("conv", Conv2d<float>(3, 4, 3)).add("bn", BatchNorm2d<float>(5));
  expect_throw_with<ConfigError>([&] { fold_batch_norm(model); },
                                 {"BatchNorm2d(5)", "cannot follow Conv2d(3->4, k=3)", "5 channels", "4 outputs"});
  // A BatchNorm2d after anything else stays.
  Sequential<float> other;
  other.add("relu", ReLU<float>()).add("bn", BatchNorm2d<float>(3));
  EXPECT_EQ(fold_batch_norm(other).size(), 2u);
}

}  // namespace
}  // namespace parcnn::test
