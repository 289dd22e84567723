// The trainer: it learns, and its weights are the same bits with 1, 2 and 3 threads, under every
// strategy, and whether each chunk runs forward and back on one worker or every layer over the batch.
#include <parcnn/train/trainer.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

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

// accumulate over rows of a batch (each part starting at a chunk) gives the very chunks step() sums
// for the whole batch: what a trainer spread over processes (parcnn::mpi) relies on.
TEST(TrainerTest, AccumulateOverPartsGivesTheChunksOfTheWholeBatch) {
  Tensor<float> images;
  std::vector<std::size_t> labels;
  toy_batch(13, 5, images, labels);
  for (Loss loss : {Loss::nll, Loss::cross_entropy})
    for (bool by_chunks : {false, true}) {
      Sequential<float> model = models::letter_cnn<float>(4, 3);
      if (loss == Loss::cross_entropy) model = model.slice(0, model.size() - 1);  // raw scores
      Parameters<float> params(model);
      SGD<float> sgd(params.all(), SgdOptions{0.05});
      Trainer<float> whole(model, params, sgd, TrainerOptions{strategy::Auto{}, 4, by_chunks, loss});
      Trainer<float> part(model, params, sgd, TrainerOptions{strategy::Auto{}, 4, by_chunks, loss});
      whole.accumulate(images, labels, 13);
      for (const Range r : {Range{0, 8}, Range{8, 13}}) {  // chunks 0-1, then 2-3 (the last of one image)
        const std::vector<std::size_t> y(labels.begin() + std::ptrdiff_t(r.begin), labels.begin() + std::ptrdiff_t(r.end));
        const StepStats st = part.accumulate(TensorView<const float>(images.view()).batch(r.begin, r.end), y, 13);
        EXPECT_EQ(st.images, r.size());
        ASSERT_EQ(part.chunks().chunks(), (r.size() + 3) / 4);
        for (std::size_t c = 0; c < part.chunks().chunks(); ++c)
          for (std::size_t p = 0; p < params.size(); ++p)
            EXPECT_TRUE(bitwise<float>(part.chunks().grad(c, p), whole.chunks().grad(r.begin / 4 + c, p)))
                << loss_name(loss) << (by_chunks ? ", by chunks" : ", by layers") << ", chunk " << r.begin / 4 + c
                << ", parameter " << p;
      }
      EXPECT_THROW(part.accumulate(images, labels, 12), ConfigError);
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
                                 {"Trainer", "NLL loss needs a model ending in LogSoftmax", "Linear(784->4)",
                                  "Loss::cross_entropy"});
  Sequential<float> none;
  Parameters<float> no_params(none);
  expect_throw_with<ConfigError>([&] { Trainer<float>(none, no_params, sgd); }, {"ending in LogSoftmax", "none"});
  Trainer<float> fine(model, params, sgd);
}

// The letter CNN without its LogSoftmax: raw scores.
Sequential<float> letter_cnn_logits(std::size_t classes, std::uint64_t seed) {
  const Sequential<float> full = models::letter_cnn<float>(classes, seed);
  Sequential<float> m;
  for (std::size_t i = 0; i + 1 < full.size(); ++i) m.add(full.layer_name(i), full[i].clone());
  return m;
}

TEST(TrainerTest, CrossEntropyRefusesModelsEndingInProbabilities) {
  SgdOptions o{0.05};
  TrainerOptions ce;
  ce.loss = Loss::cross_entropy;
  Sequential<float> log_probs = models::letter_cnn<float>(4, 3);
  Parameters<float> p1(log_probs);
  SGD<float> s1(p1.all(), o);
  expect_throw_with<ConfigError>([&] { Trainer<float>(log_probs, p1, s1, ce); },
                                 {"cross-entropy loss takes raw scores", "LogSoftmax(dim=1)", "Loss::nll"});
  Sequential<float> probs = letter_cnn_logits(4, 3);
  probs.add("softmax", Softmax<float>());
  Parameters<float> p2(probs);
  SGD<float> s2(p2.all(), o);
  expect_throw_with<ConfigError>([&] { Trainer<float>(probs, p2, s2, ce); }, {"Softmax(dim=1)", "drop it"});
}

// Cross-entropy on the scores trains as NLL on the LogSoftmax of them (to rounding), and its weights are
// the same bits for every thread count, by chunks or by layers.
TEST(TrainerTest, CrossEntropyOnLogitsTrainsAsNllOnLogSoftmax) {
  auto train = [](bool logits, std::size_t threads, bool by_chunks, std::vector<double>& losses) {
    return Executor(threads).run([&] {
      Sequential<float> model = logits ? letter_cnn_logits(4, 3) : models::letter_cnn<float>(4, 3);
      Parameters<float> params(model);
      SGD<float> sgd(params.all(), SgdOptions{0.05, 0.9});
      TrainerOptions options{strategy::Auto{}, 4, by_chunks};
      options.loss = logits ? Loss::cross_entropy : Loss::nll;
      Trainer<float> trainer(model, params, sgd, options);
      Tensor<float> images;
      std::vector<std::size_t> labels;
      losses.clear();
      for (std::size_t s = 0; s < 3; ++s) {
        toy_batch(13, s, images, labels);
        losses.push_back(trainer.step(images, labels).loss);
      }
      std::vector<Tensor<float>> weights;
      for (auto& p : params) weights.emplace_back(p.value->view());
      return weights;
    });
  };
  std::vector<double> nll_losses, ce_losses, again;
  const std::vector<Tensor<float>> nll = train(false, 1, false, nll_losses);
  const std::vector<Tensor<float>> ce = train(true, 1, false, ce_losses);
  for (std::size_t s = 0; s < 3; ++s) EXPECT_NEAR(ce_losses[s], nll_losses[s], 1e-5) << "step " << s;
  for (std::size_t p = 0; p < ce.size(); ++p) EXPECT_TRUE(near<float>(ce[p], nll[p], 1e-4)) << "parameter " << p;
  for (bool by_chunks : {false, true})
    for (std::size_t threads : thread_counts()) {
      const std::vector<Tensor<float>> w = train(true, threads, by_chunks, again);
      EXPECT_EQ(again, ce_losses);
      for (std::size_t p = 0; p < w.size(); ++p)
        EXPECT_TRUE(bitwise<float>(w[p], ce[p])) << threads << " threads, by chunks " << by_chunks << ", parameter " << p;
    }
}

}  // namespace
}  // namespace parcnn::test
