// Strategy names, parsing, the cuts each strategy makes, and Auto's choices.
#include <parcnn/parallel/strategy.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

Workload conv_like(std::size_t n, std::size_t c, std::size_t h, std::size_t w, double flops = 1e9) {
  Workload work;
  work.space = IndexSpace{n, c, h, w};
  work.flops = flops;
  return work;
}

TEST(StrategyTest, NamesRoundTripThroughParse) {
  for (const char* name : {"serial", "batch", "batch:4", "channel", "channel:16", "spatial", "spatial:3", "tiled:8x8",
                           "tiled:4x6x32", "auto"})
    EXPECT_EQ(Strategy::parse(name).name(), name);
  EXPECT_EQ(Strategy::parse("tiled").name(), "tiled:8x8");
  EXPECT_EQ(Strategy::parse("sequential").name(), "serial");  // the name it had before
  EXPECT_EQ(Strategy().name(), "auto");
}

TEST(StrategyTest, ParseRejectsWhatItCannotRead) {
  for (const char* bad : {"", "fast", "batch:", "batch:0", "batch:x", "tiled:8", "tiled:8x", "tiled:1x2x3x4", "auto:2",
                          "channel:-1", "spatial:99999999"})
    expect_throw_with<ConfigError>([&] { Strategy::parse(bad); }, {"strategy", "expected serial"});
}

TEST(StrategyTest, EachFixedStrategyCutsItsOwnDimension) {
  const Workload w = conv_like(64, 32, 26, 26);
  const Cut batch = strategy::Batch{}.cut(w, 2);
  EXPECT_EQ(batch.n, 8u);  // 4 blocks per worker
  EXPECT_EQ(batch.c, 32u);
  EXPECT_EQ(batch.h, 26u);
  EXPECT_EQ(strategy::Batch{5}.cut(w, 2).n, 5u);
  const Cut channel = strategy::Channel{}.cut(w, 3);
  EXPECT_EQ(channel.c, 11u);  // one block per worker: 11 + 11 + 10
  EXPECT_EQ(channel.n, 64u);
  const Cut spatial = strategy::Spatial{}.cut(w, 2);
  EXPECT_EQ(spatial.h, 13u);
  EXPECT_EQ(spatial.w, 26u);
  const Cut tiled = strategy::Tiled{4, 6, 8}.cut(w, 2);
  EXPECT_EQ(tiled.n, 1u);
  EXPECT_EQ(tiled.c, 8u);
  EXPECT_EQ(tiled.h, 4u);
  EXPECT_EQ(tiled.w, 6u);
  EXPECT_EQ(BlockGrid(w.space, tiled).count(), 64u * 4 * 7 * 5);
  const Cut seq = strategy::Serial{}.cut(w, 2);
  EXPECT_EQ(BlockGrid(w.space, seq).count(), 1u);
}

TEST(StrategyTest, StrategiesWithNothingToCutFallBackToImages) {
  const Workload rows = conv_like(16, 1, 1, 1);  // log-softmax: one item per image
  const Cut by_images = strategy::Batch{}.cut(rows, 2);
  const Cut channel = strategy::Channel{}.cut(rows, 2);
  EXPECT_EQ(channel.n, by_images.n);
  EXPECT_EQ(BlockGrid(rows.space, channel).count(), BlockGrid(rows.space, by_images).count());
  const Workload linear = conv_like(16, 512, 1, 1);
  const Cut c = strategy::Spatial{}.cut(linear, 2);
  EXPECT_LT(c.n, 16u);
  EXPECT_EQ(c.c, 512u);
}

TEST(StrategyTest, AutoPicksBatchWhenImagesFillTheWorkers) {
  const strategy::AutoChoice c = strategy::Auto{}.choose(conv_like(64, 64, 11, 11), 2);
  EXPECT_EQ(c.strategy, "batch");
  EXPECT_NE(c.reason.find("64 images over 2 workers"), std::string::npos) << c.reason;
  EXPECT_EQ(c.cut.n, 8u);  // four blocks per worker, to even out a slower core
  EXPECT_NE(c.reason.find("blocks of 8 images"), std::string::npos) << c.reason;
}

TEST(StrategyTest, AutoSizesImageBlocksByTheLayersStackAndTime) {
  const strategy::Auto a;
  Workload w = conv_like(64, 128, 3, 3);
  w.one_core_ns = 500e3;
  EXPECT_EQ(a.cut(w, 2).n, 8u);  // long enough for four blocks per worker
  w.stacked_images = 8;          // still four blocks of 8 images
  EXPECT_EQ(a.cut(w, 2).n, 8u);
  w.stacked_images = 16;  // two blocks per worker of 16
  EXPECT_EQ(a.cut(w, 2).n, 16u);
  w.stacked_images = 56;  // conv3's stack: one block per worker, the images shared out evenly
  EXPECT_EQ(a.cut(w, 2).n, 32u);
  w.space.n = 63;
  EXPECT_EQ(a.cut(w, 2).n, 32u);
  EXPECT_NE(a.choose(w, 2).reason.find("blocks of 32 images"), std::string::npos) << a.choose(w, 2).reason;
  EXPECT_EQ(a.cut(w, 3).n, 21u);

  // Time: a block should hold at least min_block_ns (5 µs) of work.
  Workload fc = conv_like(64, 26, 1, 1);
  fc.one_core_ns = 6e3;  // fc3 of the letter CNN at batch 64
  EXPECT_EQ(a.choose(fc, 2).strategy, "batch");
  EXPECT_EQ(a.cut(fc, 2).n, 32u);
  fc.one_core_ns = 2 * 2 * 5e3;  // two blocks per worker
  EXPECT_EQ(a.cut(fc, 2).n, 16u);
  fc.one_core_ns = 2 * 4 * 5e3 - 1;  // not quite four: three, of 11 images (not 10: 7 blocks, 4 on one worker)
  EXPECT_EQ(a.cut(fc, 2).n, 11u);
  fc.space.n = 20;  // four per worker: 10 blocks of 2 (not 7 of 3, one worker running 11 images)
  fc.one_core_ns = 1e9;
  EXPECT_EQ(a.cut(fc, 2).n, 2u);
  fc.space.n = 64;
  fc.one_core_ns = 1e9;
  EXPECT_EQ(a.cut(fc, 2).n, 8u);
  fc.space.n = 9;  // 9 images: blocks of 2 leave the busiest worker 5, as single images would, in fewer tasks
  EXPECT_EQ(a.cut(fc, 2).n, 2u);
  fc.stacked_images = 4;  // a Linear layer's tile of 4 rows: one block per worker
  EXPECT_EQ(a.cut(fc, 2).n, 5u);
}

TEST(StrategyTest, AutoParallelisesInsideAnImageAtBatchOne) {
  EXPECT_EQ(strategy::Auto{}.choose(conv_like(1, 64, 11, 11), 2).strategy, "spatial");  // 11 rows: 0.92
  EXPECT_EQ(strategy::Auto{}.choose(conv_like(3, 64, 11, 11), 2).strategy, "spatial");  // 3 images on 2 workers: 0.75
  EXPECT_EQ(strategy::Auto{}.choose(conv_like(1, 512, 7, 7), 2).strategy, "spatial");   // 7 rows: 0.875
  const strategy::AutoChoice few_rows = strategy::Auto{}.choose(conv_like(1, 128, 3, 3), 2);  // 3 rows: 0.75
  EXPECT_EQ(few_rows.strategy, "channel");
  EXPECT_NE(few_rows.reason.find("128 channels split with efficiency 1.00"), std::string::npos) << few_rows.reason;
  EXPECT_EQ(strategy::Auto{}.choose(conv_like(1, 512, 1, 1), 2).strategy, "channel");   // a Linear layer
  EXPECT_EQ(strategy::Auto{}.choose(conv_like(1, 3, 3, 5), 2).strategy, "serial");  // 3 rows, 3 channels
  EXPECT_EQ(strategy::Auto{}.choose(conv_like(1, 3, 2, 5), 3).strategy, "channel");     // 3 workers: 2 rows, 3 channels
}

// fc2 of the letter CNN (512 -> 256): 512 KiB of weights.
Workload linear_like(std::size_t n) {
  Workload w;
  w.space = IndexSpace{n, 256, 1, 1};
  w.flops = 2.0 * double(n) * 512 * 256;
  w.parameter_bytes = 4.0 * 512 * 256;
  w.bytes = 4.0 * double(n) * (512 + 256) + w.parameter_bytes;
  return w;
}

TEST(StrategyTest, AutoCutsWeightBoundLayersByChannel) {
  const strategy::AutoChoice small = strategy::Auto{}.choose(linear_like(16), 2);  // weights 10.7x activations
  EXPECT_EQ(small.strategy, "channel");
  EXPECT_NE(small.reason.find("weight-bound"), std::string::npos) << small.reason;
  EXPECT_EQ(strategy::Auto{}.choose(linear_like(1), 2).strategy, "channel");
  // Not weight-bound at batch 64 (2.7x): whole images per task, as for any layer.
  EXPECT_EQ(strategy::Auto{}.choose(linear_like(64), 2).strategy, "batch");
  // Nor at batch 5 with small weights, but 5 images split badly over 2 workers, and a Linear layer's
  // channel tasks share only its input.
  Workload narrow;
  narrow.space = IndexSpace{5, 64, 1, 1};
  narrow.parameter_bytes = 4.0 * 64 * 16;  // Linear(16 -> 64): 2.5x the activations
  narrow.bytes = 4.0 * 5 * (16 + 64) + narrow.parameter_bytes;
  narrow.one_core_ns = 10e3;
  const strategy::AutoChoice wide = strategy::Auto{}.choose(narrow, 2);
  EXPECT_EQ(wide.strategy, "channel");
  EXPECT_NE(wide.reason.find("one output position per image"), std::string::npos) << wide.reason;
  EXPECT_EQ(strategy::Auto{}.choose(conv_like(64, 512, 1, 1), 2).strategy, "batch");  // no weights (GELU): images
  // A weight-bound convolution with rows to split is cut by rows: the 3×3 512@7² at batch 1.
  Workload conv = conv_like(1, 512, 7, 7);
  conv.parameter_bytes = 4.0 * 512 * 512 * 9;
  conv.bytes = conv.parameter_bytes + 4.0 * 2 * 512 * 49;
  EXPECT_EQ(strategy::Auto{}.choose(conv, 2).strategy, "spatial");
  conv.space.h = conv.space.w = 3;  // 3 rows split badly: by channel
  EXPECT_EQ(strategy::Auto{}.choose(conv, 2).strategy, "channel");
}

// Where the host places the two cores far apart (a cache line's round trip of 540 ns, not about 100),
// every cut costs several times more, and Auto scales its costs by the measured hand-off; below 1.5
// times the reference nothing changes.
TEST(StrategyTest, AutoScalesItsCostsByTheMeasuredHandOff) {
  strategy::Auto close, near_noise, far;
  close.hand_off_ns = 100;
  near_noise.hand_off_ns = 200;
  far.hand_off_ns = 540;
  EXPECT_EQ(strategy::Auto{}.cost_scale(), 1.0);  // outside an executor's scope: nothing measured
  EXPECT_EQ(close.cost_scale(), 1.0);
  EXPECT_EQ(near_noise.cost_scale(), 1.0);
  EXPECT_DOUBLE_EQ(far.cost_scale(), 3.6);
  EXPECT_DOUBLE_EQ(far.fork_join_cost(), 3.6 * far.fork_join_ns);

  Workload stage = conv_like(1, 64, 5, 5);  // conv2 with its pool and GELU at batch 1: 5 rows, 64 channels
  stage.one_core_ns = 21.4e3;
  // As Conv2d gives it: each channel block builds its own columns, a cut that costs next to nothing
  // beyond the fork-join where the cores are close, and at least in_image_ns, scaled, where they are not.
  Workload own_columns = stage;
  own_columns.channel_cut_ns = 0;
  own_columns.channel_cut_repeats_ns = 4.3e3;
  Workload fc3x3 = conv_like(1, 128, 1, 1);  // conv3 with its pool: one output position, weight-bound
  fc3x3.one_core_ns = 12.9e3;
  fc3x3.parameter_bytes = 4.0 * 128 * 64 * 9;
  fc3x3.bytes = fc3x3.parameter_bytes + 4.0 * (64 * 25 + 128);
  for (const Workload& w : {stage, own_columns, fc3x3, linear_like(1)}) {
    EXPECT_EQ(close.choose(w, 2).strategy, "channel") << w.space.str();
    EXPECT_EQ(near_noise.choose(w, 2).strategy, "channel") << w.space.str();
    const strategy::AutoChoice c = far.choose(w, 2);
    EXPECT_EQ(c.strategy, "serial") << w.space.str() << ": " << c.reason;
  }
  // Work enough to pay even the dearer cut, and whole images, which share nothing, are cut as before.
  EXPECT_EQ(far.choose(conv_like(1, 64, 5, 5, 1e9), 2).strategy, "channel");
  EXPECT_EQ(far.choose(conv_like(64, 64, 11, 11), 2).strategy, "batch");
  EXPECT_EQ(far.batch_grain(conv_like(64, 64, 11, 11), 2), close.batch_grain(conv_like(64, 64, 11, 11), 2));
}

TEST(StrategyTest, AutoCutsRowsOfLargeImagesEvenWithManyImages) {
  const strategy::AutoChoice stem = strategy::Auto{}.choose(conv_like(64, 64, 112, 112), 2);  // 0.8 M outputs
  EXPECT_EQ(stem.strategy, "spatial");
  EXPECT_NE(stem.reason.find("large images"), std::string::npos) << stem.reason;
  EXPECT_EQ(strategy::Auto{}.choose(conv_like(64, 64, 56, 56), 2).strategy, "batch");  // 0.2 M: images
}

TEST(StrategyTest, AutoWeighsTheLayersOwnTimeAgainstAForkJoin) {
  // pool3 of the letter CNN at batch 16: a few FLOPs over 2,048 planes of one output each, 10.9 µs alone.
  Workload pool = conv_like(16, 128, 1, 1, 18432);
  pool.bytes = 4.0 * (16 * 128 * 9 + 16 * 128);
  EXPECT_EQ(strategy::Auto{}.choose(pool, 2).strategy, "serial");  // from FLOPs and bytes: 0.1 µs
  pool.one_core_ns = 9e3;                                               // its own estimate
  EXPECT_EQ(strategy::Auto{}.choose(pool, 2).strategy, "batch");
  // On two workers a cut saves half: it pays from twice the fork-join (1.2 µs), on four from 4/3 of it.
  Workload w = conv_like(16, 1, 1, 1);
  w.one_core_ns = 2300;
  const strategy::AutoChoice small = strategy::Auto{}.choose(w, 2);
  EXPECT_EQ(small.strategy, "serial");
  EXPECT_NE(small.reason.find("about 2.30 us on one core"), std::string::npos) << small.reason;
  EXPECT_NE(small.reason.find("not worth a fork-join (1.20 us)"), std::string::npos) << small.reason;
  w.one_core_ns = 2500;
  EXPECT_EQ(strategy::Auto{}.choose(w, 2).strategy, "batch");
  w.one_core_ns = 1800;
  EXPECT_EQ(strategy::Auto{}.choose(w, 2).strategy, "serial");
  EXPECT_EQ(strategy::Auto{}.choose(w, 4).strategy, "batch");
  strategy::Auto slow_fork;
  slow_fork.fork_join_ns = 2000;
  EXPECT_EQ(slow_fork.choose(w, 4).strategy, "serial");
}

TEST(StrategyTest, AutoCutsInsideAnImageOnlyWhenThatPaysItsExtraCost) {
  // conv1 of the letter CNN at batch 1 (32 channels of 26 rows) is about 4 µs alone: a cut inside the
  // image costs more than it saves; conv3 (128 channels of 3 rows), about 14 µs, gains from one.
  Workload conv1 = conv_like(1, 32, 26, 26);
  conv1.one_core_ns = 4e3;
  const strategy::AutoChoice small = strategy::Auto{}.choose(conv1, 2);
  EXPECT_EQ(small.strategy, "serial");
  EXPECT_NE(small.reason.find("inside an image would save 2.00 us of about 4.00 us, less than it costs (4.20 us)"),
            std::string::npos)
      << small.reason;
  Workload conv3 = conv_like(1, 128, 3, 3);
  conv3.one_core_ns = 14e3;
  EXPECT_EQ(strategy::Auto{}.choose(conv3, 2).strategy, "channel");
  // The same work over images pays the fork-join only.
  conv1.space.n = 16;
  EXPECT_EQ(strategy::Auto{}.choose(conv1, 2).strategy, "batch");
  // A weight-bound layer's channel cut shares only its small input: fc2 at batch 1, 3.9 µs alone.
  Workload fc2 = linear_like(1);
  fc2.one_core_ns = 3.9e3;
  EXPECT_EQ(strategy::Auto{}.choose(fc2, 2).strategy, "channel");
}

TEST(StrategyTest, AutoTakesTheInImageCutTheLayerSaysIsCheaper) {
  // conv1 of the letter CNN at batch 1 through the direct kernel: 3.5 µs alone, its channel blocks
  // share nothing (no cost beyond the fork-join), its row blocks stage halo rows again.
  Workload conv1 = conv_like(1, 32, 26, 26);
  conv1.one_core_ns = 3.5e3;
  conv1.channel_cut_ns = 0;
  conv1.row_cut_ns = 500;
  const strategy::AutoChoice c = strategy::Auto{}.choose(conv1, 2);
  EXPECT_EQ(c.strategy, "channel");
  EXPECT_NE(c.reason.find("26 rows split, but a cut of the 32 channels (efficiency 1.00) costs less"), std::string::npos)
      << c.reason;
  // Rows when they cost less, or on a tie.
  conv1.row_cut_ns = 0;
  EXPECT_EQ(strategy::Auto{}.choose(conv1, 2).strategy, "spatial");
  conv1.channel_cut_ns = 800;
  conv1.row_cut_ns = 400;
  EXPECT_EQ(strategy::Auto{}.choose(conv1, 2).strategy, "spatial");
  // The cheaper cut must still pay for itself: 1.75 µs saved against 1.2 + 0.6.
  conv1.row_cut_ns = 600;
  const strategy::AutoChoice small = strategy::Auto{}.choose(conv1, 2);
  EXPECT_EQ(small.strategy, "serial");
  EXPECT_NE(small.reason.find("less than it costs (1.80 us)"), std::string::npos) << small.reason;
  // A cut that does not split well is not taken for being cheap: 3 channels over 2 workers.
  Workload few = conv_like(1, 3, 26, 26);
  few.one_core_ns = 10e3;
  few.channel_cut_ns = 0;
  EXPECT_EQ(strategy::Auto{}.choose(few, 2).strategy, "spatial");
}

TEST(StrategyTest, AutoWeighsWhatAChannelCutRepeats) {
  // conv2 of the letter CNN at batch 1 through im2col: 11 rows and 64 channels split; each channel
  // block builds the image's columns itself (4.8 µs of its 22), a row block only its rows' (3 µs, the
  // default in_image_ns, for its halo rows and narrower GEMMs).
  Workload conv2 = conv_like(1, 64, 11, 11);
  conv2.one_core_ns = 22e3;
  conv2.channel_cut_ns = 0;
  conv2.channel_cut_repeats_ns = 4.8e3;  // on 2 workers half of it beyond a worker's share: 2.4 µs
  EXPECT_EQ(strategy::Auto{}.choose(conv2, 2).strategy, "channel");
  EXPECT_EQ(strategy::Auto{}.choose(conv2, 4).strategy, "spatial");  // on 4, three quarters: 3.6 µs
  conv2.channel_cut_repeats_ns = 7e3;
  EXPECT_EQ(strategy::Auto{}.choose(conv2, 2).strategy, "spatial");
  // A cut of channels alone must still pay for what it repeats: 3 rows do not split.
  Workload conv3 = conv_like(1, 128, 3, 3);
  conv3.one_core_ns = 6e3;
  conv3.channel_cut_ns = 0;
  conv3.channel_cut_repeats_ns = 3e3;  // saves 3 µs for 1.2 + 1.5
  EXPECT_EQ(strategy::Auto{}.choose(conv3, 2).strategy, "channel");
  conv3.channel_cut_repeats_ns = 4e3;  // 1.2 + 2
  EXPECT_EQ(strategy::Auto{}.choose(conv3, 2).strategy, "serial");
  // So must a weight-bound layer's (rule 2), which otherwise pays only the fork-join.
  conv3.parameter_bytes = 4.0 * 128 * 64 * 9;
  conv3.bytes = conv3.parameter_bytes + 4.0 * (64 * 25 + 128 * 9);
  EXPECT_EQ(strategy::Auto{}.choose(conv3, 2).strategy, "serial");
  conv3.channel_cut_repeats_ns = 3e3;
  EXPECT_EQ(strategy::Auto{}.choose(conv3, 2).strategy, "channel");
  // With an image per worker the columns of each are built once, in parallel, and nothing is repeated.
  conv3.channel_cut_repeats_ns = 4e3;
  conv3.space.n = 2;
  EXPECT_EQ(strategy::Auto{}.choose(conv3, 2).strategy, "channel");
}

TEST(StrategyTest, AutoStaysSequentialForTinyWorkOrOneWorker) {
  const strategy::AutoChoice tiny = strategy::Auto{}.choose(conv_like(64, 128, 1, 1, 1e4), 2);
  EXPECT_EQ(tiny.strategy, "serial");
  EXPECT_NE(tiny.reason.find("fork-join"), std::string::npos);
  EXPECT_EQ(strategy::Auto{}.choose(conv_like(64, 64, 11, 11), 1).strategy, "serial");
  EXPECT_EQ(Strategy(strategy::Batch{}).explain(conv_like(2, 2, 2, 2), 2).reason, "fixed by the caller");
}

// Fixed applies its cut whatever the workload: a plan's stage runs exactly the cut the plan chose.
TEST(StrategyTest, FixedCutsAsItWasToldAndSameAsComparesSettings) {
  Workload w;
  w.space = IndexSpace{4, 8, 6, 6};
  const Cut c{2, 8, 3, 6};
  const Cut got = Strategy(strategy::Fixed{c}).cut(w, 7);
  EXPECT_TRUE(got.n == 2 && got.c == 8 && got.h == 3 && got.w == 6);
  EXPECT_TRUE(Strategy(strategy::Channel{4}).same_as(strategy::Channel{4}));
  EXPECT_FALSE(Strategy(strategy::Channel{4}).same_as(strategy::Channel{5}));
  EXPECT_FALSE(Strategy(strategy::Channel{4}).same_as(strategy::Spatial{4}));
  strategy::Auto a, b;
  EXPECT_TRUE(Strategy(a).same_as(b));
  b.fork_join_ns += 1;
  EXPECT_FALSE(Strategy(a).same_as(b));
  const strategy::Tuned t = strategy::Tuned{}.with({w, 2, "batch", c, {}});
  EXPECT_TRUE(Strategy(t).same_as(t));                      // a copy shares the table
  EXPECT_FALSE(Strategy(t).same_as(strategy::Tuned{}.with({w, 2, "batch", c, {}})));  // another table
  EXPECT_FALSE(Strategy(strategy::Fixed{c}).same_as(strategy::Fixed{Cut{1, 8, 3, 6}}));
}

TEST(BlockGridTest, BlocksTileTheSpaceExactlyOnce) {
  const IndexSpace space{5, 7, 9, 11};
  for (const Cut& cut : {Cut{1, 1, 1, 1}, Cut{2, 3, 4, 5}, Cut{5, 7, 9, 11}, Cut{100, 100, 100, 100}, Cut{3, 7, 2, 11}}) {
    std::vector<int> hits(space.items(), 0);
    const BlockGrid grid(space, cut);
    for (std::size_t i = 0; i < grid.count(); ++i) {
      const Block b = grid.block(i);
      EXPECT_GT(b.n.size() * b.c.size() * b.h.size() * b.w.size(), 0u);
      for (std::size_t n = b.n.begin; n < b.n.end; ++n)
        for (std::size_t c = b.c.begin; c < b.c.end; ++c)
          for (std::size_t h = b.h.begin; h < b.h.end; ++h)
            for (std::size_t w = b.w.begin; w < b.w.end; ++w) ++hits[((n * 7 + c) * 9 + h) * 11 + w];
    }
    for (int h : hits) ASSERT_EQ(h, 1);
  }
  EXPECT_EQ(BlockGrid(IndexSpace{0, 3, 3, 3}, Cut{1, 1, 1, 1}).count(), 0u);
}

TEST(IndexSpaceTest, ParallelEfficiency) {
  EXPECT_DOUBLE_EQ(parallel_efficiency(64, 2), 1.0);
  EXPECT_DOUBLE_EQ(parallel_efficiency(3, 2), 0.75);
  EXPECT_DOUBLE_EQ(parallel_efficiency(1, 2), 0.5);
  EXPECT_DOUBLE_EQ(parallel_efficiency(0, 2), 0.0);
}

}  // namespace
}  // namespace parcnn::test
