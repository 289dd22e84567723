// SGD and Adam against torch.optim (1.13) on the same parameters and gradients, in double; parameter
// groups and zero_grad. The expected values were printed by PyTorch's SGD/Adam for these inputs.
#include <parcnn/train/adam.hpp>
#include <parcnn/train/sgd.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

using Steps = std::vector<std::vector<double>>;

// A one-tensor "model" whose parameter starts at {0.5, -1.25, 2, 0}.
class OneTensor final : public Layer<double> {
 public:
  Tensor<double> w{Shape{4}};
  OneTensor() { w(0) = 0.5, w(1) = -1.25, w(2) = 2.0, w(3) = 0.0; }
  std::string name() const override { return "OneTensor"; }
  Shape output_shape(const Shape& in) const override { return in; }
  Workload workload(const Shape&) const override { return {}; }
  std::vector<NamedParameter<double>> parameters() override { return {{"w", &w}}; }
  std::unique_ptr<Layer<double>> clone() const override { return std::make_unique<OneTensor>(*this); }

 protected:
  void run(TensorView<const double>, TensorView<double>, const Strategy&, Workspace<double>&) const override {}
  void run_backward(TensorView<const double>, TensorView<const double>, TensorView<const double>, TensorView<double>,
                    GradientSlice<double>, Workspace<double>&) const override {}
};

template <class Make>
void expect_steps(Make make, const Steps& expected) {
  OneTensor model;
  Parameters<double> params(model);
  auto optimizer = make(params.all());
  const Steps grads{{0.1, -0.2, 0.3, -0.4}, {0.05, 0.5, -0.25, 1.0}, {-0.3, 0.1, 0.2, 0.0}};
  for (std::size_t s = 0; s < grads.size(); ++s) {
    optimizer.zero_grad();
    for (std::size_t i = 0; i < 4; ++i) params[0].grad(i) += grads[s][i];
    optimizer.step();
    for (std::size_t i = 0; i < 4; ++i)
      EXPECT_NEAR(model.w(i), expected[s][i], 1e-15 * std::max(1.0, std::abs(expected[s][i]))) << "step " << s << " element " << i;
  }
}

TEST(SgdTest, MatchesTorchOptimSgd) {
  expect_steps([](auto p) { return SGD<double>(p, SgdOptions{0.1}); },
               {{0.49, -1.23, 1.97, 0.04000000000000001},
                {0.485, -1.28, 1.9949999999999999, -0.06},
                {0.515, -1.29, 1.9749999999999999, -0.06}});
  SgdOptions momentum{0.1, 0.9, 0.1, 0.01, false};
  expect_steps([&](auto p) { return SGD<double>(p, momentum); },
               {{0.4895, -1.22875, 1.968, 0.04000000000000001},
                {0.47510945, -1.253519125, 1.9599288, -0.014035999999999991},
                {0.48873035649499996, -1.2836831702875, 1.9329007840799999, -0.0626557676}});
  SgdOptions nesterov{0.05, 0.9, 0.0, 0.0, true};
  expect_steps([&](auto p) { return SGD<double>(p, nesterov); },
               {{0.4905, -1.231, 1.9715, 0.038000000000000006},
                {0.4817, -1.2704000000000002, 1.9831, -0.04079999999999999},
                {0.50453, -1.2928600000000001, 1.96329, -0.06671999999999999}});
}

TEST(AdamTest, MatchesTorchOptimAdam) {
  expect_steps([](auto p) { return Adam<double>(p, AdamOptions{0.01}); },
               {{0.4900000009999999, -1.2400000005, 1.9900000003333334, 0.009999999750000004},
                {0.4806782057911871, -1.2444221530217234, 1.98961878001076, 0.005577847170221496},
                {0.4841504406730389, -1.248949921399456, 1.9864427186631586, 0.0021595104193753408}});
  expect_steps([](auto p) { return Adam<double>(p, AdamOptions{0.02, 0.8, 0.99, 1e-6, 0.1}); },
               {{0.48000013333244446, -1.2300000615382722, 1.98000003999992, 0.019999950000125},
                {0.460862653105646, -1.2336922685610798, 1.9690953096965913, 0.010085028365451248},
                {0.46448722316747026, -1.2356975087783706, 1.9541097930422568, 0.0028871409034385105}});
}

TEST(OptimizerTest, GroupsHaveTheirOwnOptionsAndZeroGradClears) {
  Sequential<double> m = models::letter_cnn<double>(10, 1);
  Parameters<double> params(m);
  const Tensor<double> conv_before(*params[0].value), fc_before(*params[6].value);
  SGD<double> sgd(params.matching("conv"), SgdOptions{0.1});
  sgd.add_group(params.matching("fc"), SgdOptions{0.0});  // frozen: learning rate 0
  EXPECT_THROW(sgd.add_group(params.matching("fc1")), ConfigError);
  for (auto& p : params) std::fill(p.grad.begin(), p.grad.end(), 1.0);
  sgd.step();
  EXPECT_NEAR((*params[0].value)(0, 0, 0, 0), conv_before(0, 0, 0, 0) - 0.1, 1e-15);
  EXPECT_TRUE(bitwise<double>(*params[6].value, fc_before));
  sgd.group(1).options.lr = 0.5;  // a schedule changes a group's options between steps
  sgd.step();
  EXPECT_NEAR((*params[6].value)(0, 0), fc_before(0, 0) - 0.5, 1e-15);
  sgd.zero_grad();
  for (auto& p : params)
    for (double g : p.grad) ASSERT_EQ(g, 0.0);
  EXPECT_THROW(SGD<double>(params.all(), SgdOptions{-1.0}), ConfigError);
  EXPECT_THROW(Adam<double>(params.all(), AdamOptions{1e-3, 1.0}), ConfigError);
  EXPECT_EQ(params.count(), 320u + 18496u + 73856u + 66048u + 131328u + 2570u);
}

// step() against begin_step and update over the ranges in reverse order and in two pieces each, cut at
// a multiple of 16 elements: the same bits, as a pass that reduces and updates range by range
// (reduce_and_update) relies on.
template <class Optimizer, class Options>
void check_update_by_ranges_is_step(const Options& options) {
  Sequential<float> a = models::letter_cnn<float>(26, 5), b = models::letter_cnn<float>(26, 5);
  Parameters<float> pa(a), pb(b);
  Optimizer oa(pa.all(), options), ob(pb.all(), options);
  for (std::uint64_t s = 0; s < 2; ++s) {  // the second step takes momentum's and Adam's later-step path
    for (std::size_t p = 0; p < pa.size(); ++p) {
      pa[p].grad = random_tensor<float>(pa[p].value->shape(), 40 + s * 20 + p);
      pb[p].grad = pa[p].grad;
    }
    oa.step();
    ob.begin_step();
    const std::vector<ElementRange>& ranges = pb.ranges();
    for (auto r = ranges.rbegin(); r != ranges.rend(); ++r) {
      const std::size_t half = r->count / 32 * 16;
      ob.update(pb[r->tensor], r->begin + half, r->count - half);
      ob.update(pb[r->tensor], r->begin, half);
    }
    for (std::size_t p = 0; p < pa.size(); ++p)
      ASSERT_TRUE(bitwise<float>(*pa[p].value, *pb[p].value)) << pa[p].name << ", step " << s;
  }
}

TEST(OptimizerTest, UpdateByRangesIsStep) {
  check_update_by_ranges_is_step<SGD<float>>(SgdOptions{0.1});
  check_update_by_ranges_is_step<SGD<float>>(SgdOptions{0.1, 0.9, 0.1, 0.01, false});
  check_update_by_ranges_is_step<SGD<float>>(SgdOptions{0.05, 0.9, 0.0, 0.0, true});
  check_update_by_ranges_is_step<Adam<float>>(AdamOptions{1e-3});
  check_update_by_ranges_is_step<Adam<float>>(AdamOptions{0.02, 0.8, 0.99, 1e-6, 0.1});
}

TEST(OptimizerTest, UpdateLeavesOtherParametersAndChecksTheRange) {
  Sequential<float> m = models::letter_cnn<float>(26, 1);
  Parameters<float> params(m);
  SGD<float> sgd(params.matching("conv"), SgdOptions{0.1});
  for (auto& p : params) std::fill(p.grad.begin(), p.grad.end(), 1.0f);
  const Tensor<float> fc_before(*params[6].value);
  sgd.begin_step();
  sgd.update(params[6], 0, params[6].value->size());  // fc1.weight: not this optimizer's
  EXPECT_TRUE(bitwise<float>(*params[6].value, fc_before));
  expect_throw_with<ShapeError>([&] { sgd.update(params[0], 300, 21); }, {"[300, 321)", "conv1.weight", "288"});
}

}  // namespace
}  // namespace parcnn::test
