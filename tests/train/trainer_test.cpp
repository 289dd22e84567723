// The trainer: it learns, and its weights are the same bits with 1, 2 and 3 threads and under every
// strategy.
#include <parcnn/train/trainer.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

// A separable toy problem on the letter CNN's input: class = which quarter of the image is bright.
void toy_batch(std::size_t batch, std::uint64_t seed, Tensor<float>& images, std::vector<std::size_t>& labels) {
  images = random_tensor<float>(Shape{batch, 1, 28, 28}, seed, 0.0, 0.3);
  labels.resize(batch);
  for (std::size_t n = 0; n < batch; ++n) {
    labels[n] = (seed * 7 + n * 3) % 4;
    const std::size_t r0 = labels[n] / 2 * 14, c0 = labels[n] % 2 * 14;
    for (std::size_t r = r0; r < r0 + 14; ++r)
      for (std::size_t c = c0; c < c0 + 14; ++c) images(n, 0, r, c) += 0.7f;
  }
}

std::vector<Tensor<float>> train_and_collect(const Strategy& strategy, std::size_t threads, std::size_t steps,
                                             bool adam) {
  return Threads(threads).run([&] {
    Sequential<float> model = models::letter_cnn<float>(4, 3);
    Parameters<float> params(model);
    SGD<float> sgd(params.all(), SgdOptions{0.05, 0.9});
    Adam<float> adam_opt(params.all(), AdamOptions{1e-3});
    Optimizer<float>& opt = adam ? static_cast<Optimizer<float>&>(adam_opt) : sgd;
    Trainer<float> trainer(model, params, opt, TrainerOptions{strategy, 4});
    Tensor<float> images;
    std::vector<std::size_t> labels;
    for (std::size_t s = 0; s < steps; ++s) {
      toy_batch(13, s, images, labels);  // 13 images: chunks of 4, 4, 4 and 1
      trainer.step(images, labels);
    }
    std::vector<Tensor<float>> weights;
    for (auto& p : params) weights.emplace_back(p.value->view());
    return weights;
  });
}

TEST(TrainerTest, WeightsAreTheSameBitsForEveryThreadCountAndStrategy) {
  for (bool adam : {false, true}) {
    const std::vector<Tensor<float>> reference = train_and_collect(strategy::Sequential{}, 1, 3, adam);
    for (const Strategy& s : all_strategies())
      for (std::size_t threads : thread_counts()) {
        const std::vector<Tensor<float>> w = train_and_collect(s, threads, 3, adam);
        for (std::size_t p = 0; p < w.size(); ++p)
          ASSERT_TRUE(bitwise<float>(w[p], reference[p]))
              << (adam ? "Adam" : "SGD") << ", " << s.name() << ", " << threads << " threads, parameter " << p;
      }
  }
}

TEST(TrainerTest, LearnsASeparableProblem) {
  Sequential<float> model = models::letter_cnn<float>(4, 1);
  Parameters<float> params(model);
  Adam<float> adam(params.all(), AdamOptions{2e-3});
  Trainer<float> trainer(model, params, adam, TrainerOptions{strategy::Batch{}, 8});
  Tensor<float> images;
  std::vector<std::size_t> labels;
  toy_batch(32, 1000, images, labels);
  const StepStats before = trainer.evaluate(images, labels);
  for (std::size_t s = 0; s < 30; ++s) {
    Tensor<float> x;
    std::vector<std::size_t> y;
    toy_batch(32, s, x, y);
    trainer.step(x, y);
  }
  const StepStats after = trainer.evaluate(images, labels);
  EXPECT_LT(after.loss, 0.5 * before.loss);
  EXPECT_EQ(after.correct, 32u);
}

}  // namespace
}  // namespace parcnn::test
