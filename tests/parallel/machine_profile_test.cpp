// MachineProfile: its file round-trips, bad files get errors naming the line and key, and a profile in
// use sets what strategy::Auto's cuts cost and what the layers' time estimates are built from.
#include <parcnn/layers/conv2d.hpp>
#include <parcnn/layers/gelu.hpp>
#include <parcnn/parallel/auto.hpp>
#include <parcnn/parallel/machine_profile.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

TEST(MachineProfileTest, ItsTextRoundTrips) {
  MachineProfile p;
  p.fork_join_ns = 2345;
  p.rates.gelu_ns_per_value = 0.5;
  const MachineProfile back = MachineProfile::parse(p.text());
  EXPECT_EQ(back.text(), p.text());
  EXPECT_EQ(back.fork_join_ns, 2345);
  EXPECT_EQ(back.rates.gelu_ns_per_value, 0.5);
  // A key left out keeps its default; comments and blank lines are skipped.
  const MachineProfile partial = MachineProfile::parse("# measured\n\nteam_fork_join_ns = 250  # helpers\n");
  EXPECT_EQ(partial.team_fork_join_ns, 250);
  EXPECT_EQ(partial.fork_join_ns, MachineProfile{}.fork_join_ns);
}

TEST(MachineProfileTest, ABadFileSaysWhereAndWhy) {
  expect_throw_with<ConfigError>([] { MachineProfile::parse("fork_join_ns = 1\nspeed = 3\n", "p"); },
                                 {"p:2", "unknown key 'speed'"});
  expect_throw_with<ConfigError>([] { MachineProfile::parse("fork_join_ns 1200\n", "p"); }, {"p:1", "key = value"});
  for (const char* value : {"-1", "0", "fast", "1e999", "12 ns", ""})
    expect_throw_with<ConfigError>([&] { MachineProfile::parse(std::string("gemm_flop_per_ns = ") + value, "p"); },
                                   {"p:1", "gemm_flop_per_ns must be a positive number"});
  expect_throw_with<IoError>([] { MachineProfile::load(temp_path("no-such.machine-profile")); }, {"cannot open"});
}

// Applied, a profile sets the cut costs of every Auto made afterwards and the rates every estimate uses;
// the defaults come back the same way.
TEST(MachineProfileTest, AProfileInUseSetsAutosCostsAndTheEstimates) {
  const MachineProfile defaults;
  const Conv2d<float> conv(32, 64, 3);
  const GELU<float> gelu;
  const Shape in{1, 32, 13, 13}, values{64, 512};
  const double conv_ns = conv.workload(in).one_core_ns, gelu_ns = gelu.workload(values).one_core_ns;
  MachineProfile slow = defaults;
  slow.fork_join_ns = 9000;
  slow.rates.gemm_flop_per_ns = defaults.rates.gemm_flop_per_ns / 2;
  slow.rates.gelu_ns_per_value = defaults.rates.gelu_ns_per_value * 3;
  use_machine_profile(slow);
  EXPECT_EQ(strategy::Auto{}.fork_join_ns, 9000);
  EXPECT_GT(conv.workload(in).one_core_ns, 1.5 * conv_ns);
  EXPECT_NEAR(gelu.workload(values).one_core_ns, 3 * gelu_ns, 1e-6 * gelu_ns);
  use_machine_profile(defaults);
  EXPECT_EQ(strategy::Auto{}.fork_join_ns, defaults.fork_join_ns);
  EXPECT_EQ(conv.workload(in).one_core_ns, conv_ns);
}

}  // namespace
}  // namespace parcnn::test
