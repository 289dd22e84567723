// Plans as JSON files: a saved plan loads to the same plan and runs to the bits of the sequential run
// (a tuned one too); a file that is not a plan, lacks a field, or does not fit the model gets an
// IoError naming the file and what is wrong.
#include <cstdio>
#include <fstream>

#include <parcnn/io/plan_file.hpp>
#include <parcnn/layers/sequential.hpp>
#include <parcnn/layers/tune.hpp>
#include <parcnn/models/letter_cnn.hpp>

#include "fuzz/harnesses.hpp"
#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(PlanFileTest, ASavedPlanLoadsAsItWasMade) {
  const Sequential<float> m = models::letter_cnn<float>(26, 1);
  for (std::size_t batch : {1, 64})
    for (Pass pass : {Pass::inference, Pass::for_backward}) {
      const Plan plan = m.plan(Shape{batch, 1, 28, 28}, Strategy(), pass, ExecutorProfile(2, true, 130));
      const std::string path = temp_path("letter.plan.json");
      io::save_plan(plan, path);
      const Plan back = io::load_plan(path, m);
      EXPECT_EQ(back.describe(), plan.describe());
      EXPECT_EQ(io::plan_to_json(back), io::plan_to_json(plan));
      std::remove(path.c_str());
    }
}

TEST(PlanFileTest, ALoadedTunedPlanRunsToTheSequentialBits) {
  const Sequential<float> m = small_cnn(3, 12, 9, 10);
  const Tensor<float> x = random_tensor<float>(Shape{7, 3, 9, 9}, 90);
  const Tensor<float> expected = m.forward(x, strategy::Serial{});
  Executor two(2);
  const strategy::Tuned tuned = two.run([&] { return tune(m, x.shape(), {}, TuneOptions{1, 0.03, 1}); });
  const std::string text = io::plan_to_json(m.plan(x.shape(), tuned, two));
  const Plan plan = io::plan_from_json(text, m);
  EXPECT_NE(plan.describe().find("measured"), std::string::npos) << plan.describe();
  Workspace<float> ws;
  EXPECT_TRUE(bitwise<float>(Tensor<float>(m.forward(x, plan, ws, two)), expected));
}

std::string seed() {
  std::ifstream in(std::string(PARCNN_SOURCE_DIR) + "/tests/fuzz/corpus/plan/batch2_two_workers.json");
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// `text` with the first `from` replaced by `to` (which must be there).
std::string with(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(PlanFileTest, WhatIsNotAPlanOfTheModelGetsAnIoErrorSayingWhy) {
  const Sequential<float> m = fuzz::plan_model();
  const std::string good = seed();
  io::plan_from_json(good, m);  // the seed loads
  auto rejects = [&](const std::string& text, const std::vector<std::string>& parts) {
    expect_throw_with<IoError>([&] { io::plan_from_json(text, m, "p.json"); }, parts);
  };
  rejects("{", {"p.json: not valid JSON"});
  rejects(good.substr(0, good.size() / 2), {"p.json: not valid JSON"});
  rejects("[]", {"p.json is not a JSON object"});
  rejects(with(good, "\"parcnn-plan\"", "\"other\""), {"not a parcnn plan"});
  rejects(with(good, "\"team\": 2", "\"team\": \"two\""), {"p.json.team must be a whole number"});
  rejects(with(good, "\"pass\"", "\"passes\""), {"p.json has no 'pass'"});
  rejects(with(good, "\"name\": \"conv\"", "\"name\": \"conv0\""), {"does not fit the model", "'conv0' in the plan"});
  rejects(with(good, "\"input\": [\n  2,", "\"input\": [\n  3,"), {"does not fit the model"});
  rejects(with(good, "\"max_pool_2x2\",", ""), {"do not make the post-ops GELU"});
  rejects(with(good, "\"max_pool_2x2\"", "\"swish\""), {"post_ops must hold \"max_pool_2x2\""});
  rejects(with(good, "\"version\": 2", "\"version\": 1"), {"plan format version 1 is not 2"});
  rejects(with(good, "\"cut\": [\n    2,", "\"cut\": [\n    0,"), {"an extent of 0"});
  rejects(with(good, "\"next\": 3", "\"next\": 2"), {"does not fit the model"});
  expect_throw_with<IoError>([&] { io::load_plan(temp_path("no-such.plan.json"), m); }, {"cannot open"});
}

}  // namespace
}  // namespace parcnn::test
