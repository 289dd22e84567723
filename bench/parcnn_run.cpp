// parcnn_run — the parcnn side of bench/compare_pytorch.py: times the letter CNN (26 classes) on given
// weights, forward or a training step (forward + NLL + backward + SGD), and can write its output for the
// agreement check. Prints one JSON object.
//
//   parcnn_run --weights W.safetensors [--input X.f32 --output Y.f32] [--mode forward|train] [--batch B]
//              [--threads T] [--strategy S] [--repeat R] [--plan] [--by-layers]
// --strategy tuned measures a plan with parcnn::tune first (not timed); --plan prints the plan to stderr;
// --by-layers trains every layer over the whole batch in turn (TrainerOptions::by_chunks off).
// X.f32: float32 little-endian [B, 1, 28, 28]; Y.f32 receives the log-probabilities [B, 26].
#include <parcnn/parcnn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "../examples/cli.hpp"

int main(int argc, char** argv) {
  const examples::Flags flags(argc, argv,
                              {{"weights", ""}, {"input", ""}, {"output", ""}, {"mode", "forward"}, {"batch", "64"},
                               {"threads", "1"}, {"strategy", "auto"}, {"repeat", "50"}, {"plan", "false"},
                               {"by-layers", "false"}},
                              "usage: parcnn_run --weights W [--input X --output Y] [--mode forward|train] [--batch B]\n"
                              "                  [--threads T] [--strategy S] [--repeat R] [--plan] [--by-layers]\n");
  try {
    const std::size_t batch = flags.count("batch"), repeat = std::max<std::size_t>(1, flags.count("repeat"));
    const bool train = flags.str("mode") == "train";
    if (!train && flags.str("mode") != "forward") flags.fail("--mode is forward or train");
    parcnn::Sequential<float> model = parcnn::models::letter_cnn<float>(26);
    parcnn::io::load_safetensors(flags.str("weights"), model);
    parcnn::Tensor<float> x(parcnn::Shape{batch, 1, 28, 28});
    if (!flags.str("input").empty()) {
      std::ifstream in(flags.str("input"), std::ios::binary);
      if (!in.read(reinterpret_cast<char*>(x.data()), std::streamsize(x.size() * sizeof(float))))
        throw parcnn::IoError(flags.str("input") + ": needs " + std::to_string(x.size()) + " float32 values");
    } else {
      parcnn::fill_uniform<float>(x, -1.0, 2.0, 1);
    }
    parcnn::Threads arena(flags.count("threads"));
    const parcnn::Strategy strategy = flags.str("strategy") == "tuned"
                                          ? parcnn::Strategy(arena.run([&] { return parcnn::tune(model, x.shape()); }))
                                          : parcnn::Strategy::parse(flags.str("strategy"));
    if (flags.on("plan")) std::fputs(model.describe(x.shape(), strategy, arena.count()).c_str(), stderr);
    std::vector<std::size_t> labels(batch);
    for (std::size_t n = 0; n < batch; ++n) labels[n] = (n * 7) % 26;
    parcnn::Parameters<float> params(model);
    parcnn::SGD<float> sgd(params.all(), parcnn::SgdOptions{0.01});
    parcnn::Trainer<float> trainer(model, params, sgd, parcnn::TrainerOptions{strategy, 8, !flags.on("by-layers")});
    parcnn::Workspace<float> ws;

    if (!flags.str("output").empty()) {  // before any training step changes the weights
      const auto y = arena.run([&] { return parcnn::Tensor<float>(model.forward(x, strategy, ws)); });
      std::ofstream(flags.str("output"), std::ios::binary)
          .write(reinterpret_cast<const char*>(y.data()), std::streamsize(y.size() * sizeof(float)));
    }
    auto once = [&] {
      if (train)
        trainer.step(x, labels);
      else
        model.forward(x, strategy, ws);
    };
    std::vector<double> ms;
    arena.run([&] {
      const auto warm = std::chrono::steady_clock::now();  // warm up: caches, clocks, workspace sizes
      while (std::chrono::steady_clock::now() - warm < std::chrono::milliseconds(200)) once();
      for (std::size_t r = 0; r < repeat; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        once();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
    });
    std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
    const double median = ms[ms.size() / 2];
    std::printf("{\"mode\":\"%s\",\"batch\":%zu,\"threads\":%zu,\"strategy\":\"%s\",\"ms\":%.4f,\"images_per_second\":%.1f}\n",
                train ? "train" : "forward", batch, flags.count("threads"), strategy.name().c_str(), median,
                double(batch) / (median / 1e3));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parcnn_run: %s\n", e.what());
    return 1;
  }
}
