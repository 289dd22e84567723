// Checkpoints: training stopped, saved, loaded into fresh objects and resumed ends in the same bits as
// training straight through (SGD with momentum and Adam, a learning-rate schedule, BatchNorm's running
// statistics); and the errors of a checkpoint that does not fit.
#include <parcnn/io/checkpoint.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

Sequential<float> net() {
  manual_seed(31);
  Sequential<float> m;
  m.add("conv", Conv2d<float>(1, 3, 3)).add("bn", BatchNorm2d<float>(3)).add("relu", ReLU<float>());
  m.add("pool", AdaptiveAvgPool2d<float>(1)).add("flat", Flatten<float>()).add("fc", Linear<float>(3, 4));
  return m;
}

void train_steps(Sequential<float>& m, Optimizer<float>& opt, Parameters<float>& params, std::size_t from, std::size_t to) {
  TrainerOptions o;
  o.loss = Loss::cross_entropy;
  Trainer<float> trainer(m, params, opt, o);
  for (std::size_t s = from; s < to; ++s) {
    const Tensor<float> x = random_tensor<float>(Shape{6, 1, 7, 7}, 100 + s);
    std::vector<std::size_t> labels(6);
    for (std::size_t n = 0; n < 6; ++n) labels[n] = (n * 3 + s) % 4;
    trainer.step(x, labels);
  }
}

std::vector<Tensor<float>> state(Sequential<float>& m) {
  std::vector<Tensor<float>> out;
  for (auto& p : m.parameters()) out.emplace_back(p.tensor->view());
  for (auto& b : m.buffers()) out.emplace_back(b.tensor->view());
  return out;
}

TEST(CheckpointTest, ResumedTrainingEndsInTheSameBits) {
  for (bool adam : {false, true}) {
    SCOPED_TRACE(adam ? "Adam" : "SGD");
    auto optimizer = [&](Parameters<float>& params) -> std::unique_ptr<Optimizer<float>> {
      if (adam) return std::make_unique<Adam<float>>(params.all(), AdamOptions{1e-2});
      return std::make_unique<SGD<float>>(params.all(), SgdOptions{0.1, 0.9});
    };
    Sequential<float> straight = net();
    Parameters<float> sp(straight);
    const auto so = optimizer(sp);
    train_steps(straight, *so, sp, 0, 6);

    Sequential<float> first = net();
    Parameters<float> fp(first);
    const auto fo = optimizer(fp);
    train_steps(first, *fo, fp, 0, 3);
    const std::string path = temp_path("resume.safetensors");
    if (adam) io::save_checkpoint(path, first, static_cast<Adam<float>&>(*fo), {{"step", "3"}});
    else io::save_checkpoint(path, first, static_cast<SGD<float>&>(*fo), {{"step", "3"}});

    manual_seed(99);  // other initial weights: all must come from the file
    Sequential<float> resumed;
    resumed.add("conv", Conv2d<float>(1, 3, 3)).add("bn", BatchNorm2d<float>(3)).add("relu", ReLU<float>());
    resumed.add("pool", AdaptiveAvgPool2d<float>(1)).add("flat", Flatten<float>()).add("fc", Linear<float>(3, 4));
    Parameters<float> rp(resumed);
    const auto ro = optimizer(rp);
    const auto meta = adam ? io::load_checkpoint(path, resumed, static_cast<Adam<float>&>(*ro))
                           : io::load_checkpoint(path, resumed, static_cast<SGD<float>&>(*ro));
    EXPECT_EQ(meta.at("step"), "3");
    train_steps(resumed, *ro, rp, std::stoul(meta.at("step")), 6);
    const std::vector<Tensor<float>> a = state(straight), b = state(resumed);
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(bitwise<float>(b[i], a[i])) << "tensor " << i;
  }
}

TEST(CheckpointTest, RefusesFilesThatDoNotFit) {
  Sequential<float> m = net();
  Parameters<float> params(m);
  SGD<float> sgd(params.all(), SgdOptions{0.1, 0.9});
  train_steps(m, sgd, params, 0, 1);
  const std::string path = temp_path("ck.safetensors"), plain = temp_path("plain.safetensors");
  io::save_checkpoint(path, m, sgd);
  io::save_safetensors(plain, m);
  expect_throw_with<IoError>([&] { io::load_checkpoint(plain, m, sgd); }, {"not a parcnn checkpoint"});
  Sequential<float> other;
  other.add("conv", Conv2d<float>(1, 3, 3));
  Parameters<float> op(other);
  SGD<float> osgd(op.all(), SgdOptions{0.1, 0.9});
  expect_throw_with<IoError>([&] { io::load_checkpoint(path, other, osgd); },
                             {"does not match the model", "'model.fc.weight' is neither"});
  Sequential<float> wider = net();
  wider.add("head", Linear<float>(4, 2));
  Parameters<float> wp(wider);
  SGD<float> wsgd(wp.all(), SgdOptions{0.1, 0.9});
  expect_throw_with<IoError>([&] { io::load_checkpoint(path, wider, wsgd); }, {"'model.head.weight' is missing"});
}

}  // namespace
}  // namespace parcnn::test
