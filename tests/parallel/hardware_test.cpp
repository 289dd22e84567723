// cache_levels from a sysfs tree and without one; the triad's bandwidth; the roof a working set gets.
#include <parcnn/parallel/executor.hpp>
#include <parcnn/parallel/hardware.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

void write(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << text << "\n";
}

TEST(HardwareTest, ReadsTheCachesFromSysfs) {
  const std::filesystem::path root = temp_path("cache_tree");
  std::filesystem::remove_all(root);
  write(root / "index0" / "level", "1");
  write(root / "index0" / "type", "Data");
  write(root / "index0" / "size", "48K");
  write(root / "index0" / "shared_cpu_list", "0");
  write(root / "index1" / "level", "2");
  write(root / "index1" / "type", "Unified");
  write(root / "index1" / "size", "1024K");
  write(root / "index1" / "shared_cpu_list", "0-1");
  write(root / "index2" / "level", "3");
  write(root / "index2" / "type", "Unified");
  write(root / "index2" / "size", "32M");
  const CacheInfo info = cache_levels(root.string());
  EXPECT_EQ(info.source, "sysfs");
  ASSERT_EQ(info.levels.size(), 3u);
  EXPECT_EQ(info.levels[0].bytes, 48u << 10);
  EXPECT_EQ(info.levels[1].bytes, 1u << 20);
  EXPECT_EQ(info.levels[1].shared_with, "0-1");
  EXPECT_EQ(info.levels[2].level, 3);
  EXPECT_EQ(info.levels[2].bytes, 32u << 20);
  std::filesystem::remove_all(root);
  const CacheInfo fallback = cache_levels(root.string());  // no tree: what the C library knows
  EXPECT_NE(fallback.source, "sysfs");
  for (const CacheLevel& c : fallback.levels) EXPECT_GT(c.bytes, 0u);
}

TEST(HardwareTest, TheTriadMeasuresABandwidth) {
  Executor two(2);
  const double gbs = two.run([] { return triad_gbytes_per_second(std::size_t(3) << 20, 0.002, 1); });
  EXPECT_GT(gbs, 0);  // how much is this machine's and its load's: no figure is asserted
  EXPECT_TRUE(std::isfinite(gbs));
  const std::vector<BandwidthRung> ladder = two.run([] { return bandwidth_ladder({std::size_t(1) << 20, std::size_t(1) << 16}); });
  ASSERT_EQ(ladder.size(), 2u);
  EXPECT_EQ(ladder[0].bytes, std::size_t(1) << 16);  // ascending
}

TEST(HardwareTest, AWorkingSetGetsTheFastestRungAtLeastAsLarge) {
  const std::vector<BandwidthRung> ladder{{1000, 400}, {100000, 150}, {10000000, 40}};
  EXPECT_EQ(roof_bandwidth(ladder, 10), 400);
  EXPECT_EQ(roof_bandwidth(ladder, 1000), 400);
  EXPECT_EQ(roof_bandwidth(ladder, 1001), 150);
  EXPECT_EQ(roof_bandwidth(ladder, 5e6), 40);
  EXPECT_EQ(roof_bandwidth(ladder, 1e9), 40);  // past the last rung
  EXPECT_EQ(roof_bandwidth({{1000, 100}, {100000, 120}}, 10), 120);  // a larger rung measured faster: the safe roof
  EXPECT_EQ(roof_bandwidth({}, 10), 0);
}

}  // namespace
}  // namespace parcnn::test
