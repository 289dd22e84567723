// profile_step: one phase per forward stage, per backward stage (dW, then dX but for the first), the
// loss, the chunks' clearing and reduction and the optimizer; and each of its rounds a real training
// step, the same bits as Trainer::step's.
#include <parcnn/layers/sequential.hpp>
#include <parcnn/train/sgd.hpp>
#include <parcnn/train/step_profile.hpp>

#include <parcnn/layers/log_softmax.hpp>
#include <parcnn/layers/batch_norm2d.hpp>
#include <parcnn/layers/conv2d.hpp>
#include <parcnn/layers/flatten.hpp>
#include <parcnn/layers/linear.hpp>
#include <parcnn/layers/relu.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(StepProfileTest, TimesEveryPhaseAndTrainsAsTrainerStep) {
  const Tensor<float> x = random_tensor<float>(Shape{12, 2, 8, 8}, 5);
  const std::vector<std::size_t> labels{0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
  for (std::size_t threads : thread_counts()) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    Sequential<float> profiled = small_cnn(2, 5, 8, 4), stepped = profiled;
    profiled.add("log_softmax", LogSoftmax<float>());
    stepped.add("log_softmax", LogSoftmax<float>());
    Parameters<float> pp(profiled), sp(stepped);
    SGD<float> po(pp.all(), SgdOptions{0.1}), so(sp.all(), SgdOptions{0.1});
    const TrainerOptions options{strategy::Auto{}, 3};
    const StepProfile p = Executor(threads).run([&] { return profile_step<float>(profiled, pp, po, x, labels, options, 2); });
    Trainer<float> trainer(stepped, sp, so, options);
    Executor(threads).run([&] {
      for (int i = 0; i < 4; ++i) trainer.step(x, labels);  // 2 rounds profiled, then 2 steps timed
    });
    for (std::size_t i = 0; i < pp.size(); ++i)
      EXPECT_TRUE(bitwise<float>(*pp[i].value, *sp[i].value)) << pp[i].name;

    std::vector<std::string> names;
    for (const StepPhase& phase : p.phases) names.push_back(phase.name);
    const std::vector<std::string> expected{
        "forward conv + pool + act", "forward flat", "forward fc", "forward log_softmax", "loss",
        "clear gradient chunks", "backward log_softmax", "backward fc: dW", "backward fc: dX (the stage less dW)",
        "backward flat", "backward conv + pool + act: dW", "reduce + optimizer"};
    EXPECT_EQ(names, expected);
    EXPECT_GT(p.peak_gflops, 0);
    EXPECT_GT(p.phases[0].flops, 0);  // the convolution's
    EXPECT_EQ(p.workers, threads);
    const std::string table = p.table();
    EXPECT_NE(table.find("backward conv + pool + act: dW"), std::string::npos) << table;
  }
}

// A stage of a layer and one element-wise layer (BatchNorm2d + ReLU, in evaluation so that chunks do not
// couple): one phase each way, and the profiled rounds train as Trainer::step does.
TEST(StepProfileTest, ProfilesABatchNormWithItsRelu) {
  const Tensor<float> x = random_tensor<float>(Shape{6, 2, 5, 5}, 6);
  const std::vector<std::size_t> labels{0, 1, 2, 0, 1, 2};
  Sequential<float> profiled;
  profiled.add("conv", Conv2d<float>(2, 4, 3, 1, 1)).add("bn", BatchNorm2d<float>(4)).add("relu", ReLU<float>());
  profiled.add("flat", Flatten<float>()).add("fc", Linear<float>(100, 3)).add("log_softmax", LogSoftmax<float>());
  profiled.reset_parameters(7);
  profiled.eval();
  Sequential<float> stepped = profiled;
  Parameters<float> pp(profiled), sp(stepped);
  SGD<float> po(pp.all(), SgdOptions{0.1}), so(sp.all(), SgdOptions{0.1});
  const TrainerOptions options{strategy::Auto{}, 2};
  const StepProfile p = Executor(2).run([&] { return profile_step<float>(profiled, pp, po, x, labels, options, 2); });
  Trainer<float> trainer(stepped, sp, so, options);
  Executor(2).run([&] {
    for (int i = 0; i < 4; ++i) trainer.step(x, labels);
  });
  for (std::size_t i = 0; i < pp.size(); ++i) EXPECT_TRUE(bitwise<float>(*pp[i].value, *sp[i].value)) << pp[i].name;
  std::vector<std::string> names;
  for (const StepPhase& phase : p.phases) names.push_back(phase.name);
  EXPECT_NE(std::find(names.begin(), names.end(), "forward bn + relu"), names.end()) << p.table();
  EXPECT_NE(std::find(names.begin(), names.end(), "backward bn + relu: dW"), names.end()) << p.table();
}

}  // namespace
}  // namespace parcnn::test
