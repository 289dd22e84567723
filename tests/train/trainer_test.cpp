// The trainer: it learns, and its weights are the same bits with 1, 2 and 3 threads, under every
// strategy, and whether each chunk runs forward and back on one worker or every layer over the batch.
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
                                             bool adam, bool by_chunks = true) {
  return Executor(threads).run([&] {
    Sequential<float> model = models::letter_cnn<float>(4, 3);
    Parameters<float> params(model);
    SGD<float> sgd(params.all(), SgdOptions{0.05, 0.9});
    Adam<float> adam_opt(params.all(), AdamOptions{1e-3});
    Optimizer<float>& opt = adam ? static_cast<Optimizer<float>&>(adam_opt) : sgd;
    Trainer<float> trainer(model, params, opt, TrainerOptions{strategy, 4, by_chunks});
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
    // The reference: one thread, every layer over the whole batch in turn.
    const std::vector<Tensor<float>> reference = train_and_collect(strategy::Serial{}, 1, 3, adam, false);
    for (bool by_chunks : {false, true})
      for (const Strategy& s : all_strategies())
        for (std::size_t threads : thread_counts()) {
          const std::vector<Tensor<float>> w = train_and_collect(s, threads, 3, adam, by_chunks);
          for (std::size_t p = 0; p < w.size(); ++p)
            ASSERT_TRUE(bitwise<float>(w[p], reference[p]))
                << (adam ? "Adam" : "SGD") << ", " << s.name() << ", " << threads << " threads, "
                << (by_chunks ? "by chunks" : "by layers") << ", parameter " << p;
        }
  }
}

TEST(TrainerTest, ByChunksGivesTheLossAndAccuracyOfTheWholeBatch) {
  Tensor<float> images;
  std::vector<std::size_t> labels;
  toy_batch(13, 5, images, labels);
  StepStats stats[2];
  for (bool by_chunks : {false, true}) {
    Sequential<float> model = models::letter_cnn<float>(4, 3);
    Parameters<float> params(model);
    SGD<float> sgd(params.all(), SgdOptions{0.05});
    Trainer<float> trainer(model, params, sgd, TrainerOptions{strategy::Auto{}, 4, by_chunks});
    stats[by_chunks] = Executor(2).run([&] { return trainer.step(images, labels); });
  }
  EXPECT_EQ(stats[1].loss, stats[0].loss);  // the same log-probabilities, summed in the same order
  EXPECT_EQ(stats[1].correct, stats[0].correct);
  EXPECT_EQ(stats[1].images, 13u);
}

TEST(TrainerTest, ByChunksChecksTheLabels) {
  Sequential<float> model = models::letter_cnn<float>(4, 3);
  Parameters<float> params(model);
  SGD<float> sgd(params.all(), SgdOptions{0.05});
  Trainer<float> trainer(model, params, sgd, TrainerOptions{strategy::Auto{}, 4, true});
  Tensor<float> images;
  std::vector<std::size_t> labels;
  toy_batch(13, 5, images, labels);
  labels[12] = 4;  // not one of the 4 classes
  EXPECT_THROW(trainer.step(images, labels), ShapeError);
  labels.pop_back();
  EXPECT_THROW(trainer.step(images, labels), ShapeError);
  EXPECT_THROW(trainer.step(Tensor<float>(Shape{13, 1, 27, 28}).view(), labels), ShapeError);
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

// A model that does not end in LogSoftmax trained silently on a wrong loss ("loss 0.000000"), and the
// Parameters of another model with as many tensors were accepted: both are errors now.
TEST(TrainerTest, RefusesAModelWithoutLogSoftmaxAndAnotherModelsParameters) {
  Sequential<float> model = models::letter_cnn<float>(4, 3), twin = models::letter_cnn<float>(4, 4);
  Parameters<float> params(model), twins(twin);
  SGD<float> sgd(params.all(), SgdOptions{0.05});
  expect_throw_with<ConfigError>([&] { Trainer<float>(model, twins, sgd); }, {"Trainer", "belong to another model"});
  Sequential<float> logits = small_cnn(1, 4, 28, 4);  // ends in its Linear layer
  Parameters<float> logit_params(logits);
  expect_throw_with<ConfigError>([&] { Trainer<float>(logits, logit_params, sgd); },
                                 {"Trainer", "must end in LogSoftmax", "Linear(784->4)"});
  Sequential<float> none;
  Parameters<float> no_params(none);
  expect_throw_with<ConfigError>([&] { Trainer<float>(none, no_params, sgd); }, {"must end in LogSoftmax", "none"});
  Trainer<float> fine(model, params, sgd);
}

// predictions() takes scores [N, C]; any other rank was read as nonsense.
TEST(TrainerTest, PredictionsCheckTheirShape) {
  EXPECT_EQ(predictions<float>(Tensor<float>(Shape{2, 3})), (std::vector<std::size_t>{0, 0}));
  expect_throw_with([] { predictions<float>(Tensor<float>(Shape{6})); }, {"predictions", "[N, C]", "got [6]"});
  expect_throw_with([] { predictions<float>(Tensor<float>(Shape{1, 2, 3, 4})); }, {"got [1, 2, 3, 4]"});
}

}  // namespace
}  // namespace parcnn::test
