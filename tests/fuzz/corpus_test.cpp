// Every input of the fuzzers' seed corpus (tests/fuzz/corpus/<harness>/) and every input a fuzzer
// found to fail (tests/fuzz/regressions/<harness>/, kept once fixed) through its harness, in the
// ordinary test suite: the fuzzers themselves need clang (PARCNN_BUILD_FUZZERS).
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "fuzz/harnesses.hpp"
#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

// Runs `harness` on every file under tests/fuzz/{corpus,regressions}/<name>; how many there were.
template <class Harness>
std::size_t replay(const std::string& name, Harness harness) {
  std::size_t inputs = 0;
  for (const char* set : {"corpus", "regressions"}) {
    const std::filesystem::path dir = std::filesystem::path(PARCNN_SOURCE_DIR) / "tests/fuzz" / set / name;
    if (!std::filesystem::is_directory(dir)) continue;
    for (const auto& file : std::filesystem::directory_iterator(dir)) {
      std::ifstream in(file.path(), std::ios::binary);
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
      SCOPED_TRACE(file.path().string());
      harness(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++inputs;
    }
  }
  return inputs;
}

TEST(FuzzCorpusTest, SafetensorsInputs) {
  EXPECT_GE(replay("safetensors", fuzz::safetensors), 2u);
  // The seeds load: a harness that failed every file would still pass the replay.
  Sequential<float> m = fuzz::safetensors_model();
  io::load_safetensors(std::string(PARCNN_SOURCE_DIR) + "/tests/fuzz/corpus/safetensors/float.safetensors", m);
  EXPECT_NE(m.parameters()[0].tensor->data()[0], 0.0f);
}

TEST(FuzzCorpusTest, IdxInputs) {
  EXPECT_GE(replay("idx", fuzz::idx), 3u);
  EXPECT_EQ(io::read_idx(std::string(PARCNN_SOURCE_DIR) + "/tests/fuzz/corpus/idx/images.idx.gz").dims,
            (std::vector<std::size_t>{2, 4, 4}));
}

TEST(FuzzCorpusTest, PlanInputs) {
  EXPECT_GE(replay("plan", fuzz::plan), 3u);
  // The seeds load: a harness that rejected every plan would still pass the replay.
  const Sequential<float> m = fuzz::plan_model();
  const Plan p = io::load_plan(std::string(PARCNN_SOURCE_DIR) + "/tests/fuzz/corpus/plan/batch2_two_workers.json", m);
  EXPECT_EQ(p.profile.workers, 2u);
}

TEST(FuzzCorpusTest, StrategyNameInputs) { EXPECT_GE(replay("strategy_name", fuzz::strategy_name), 9u); }

// The memory file the harnesses read through is the bytes given.
TEST(FuzzCorpusTest, AMemoryFileReadsBackItsBytes) {
  const std::uint8_t bytes[] = {0, 0, 8, 1, 0, 0, 0, 2, 7, 9};
  const fuzz::MemoryFile file(bytes, sizeof bytes);
  EXPECT_EQ(io::read_idx(file.path()).data, (std::vector<std::uint8_t>{7, 9}));
}

}  // namespace
}  // namespace parcnn::test
