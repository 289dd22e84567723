// parcnn_run — the parcnn side of bench/compare_pytorch.py: times the letter CNN (26 classes) on given
// weights, forward or a training step (forward + NLL + backward + SGD), and can write its output for the
// agreement check. Prints one JSON object.
//
//   parcnn_run --weights W.safetensors [--input X.f32 --output Y.f32] [--mode forward|train] [--batch B]
//              [--threads T] [--strategy S] [--repeat R] [--plan] [--by-layers] [--chunk-images C] [--profile]
//              [--no-fusion]
// --strategy tuned measures a plan with parcnn::tune first (not timed); --plan prints the plan to stderr;
// --by-layers trains every layer over the whole batch in turn (TrainerOptions::by_chunks off);
// --chunk-images sets TrainerOptions::chunk_images; --profile (train) prints where the step's time goes
// to stderr, phase by phase (train/step_profile.hpp), before the timed runs; --no-fusion runs every layer
// on its own, forward and backward (Sequential::fuse_post_ops(false)); --machine-profile uses the figures
// bench/calibrate measured (parallel/machine_profile.hpp) instead of the built-in ones.
// X.f32: float32 little-endian [B, 1, 28, 28]; Y.f32 receives the log-probabilities [B, 26].
#include <parcnn/parcnn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "../examples/cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Times the letter CNN (26 classes) forward or a training step on given weights; prints one JSON object."};
  std::string weights, input, output, mode = "forward", strategy_name = "auto", machine_profile;
  std::size_t batch = 64, threads = 1, repeat = 50, chunk_images = parcnn::TrainerOptions{}.chunk_images;
  bool plan = false, by_layers = false, profile = false, no_fusion = false;
  app.add_option("--weights", weights, "weights of the 26-class letter CNN (safetensors)")->required()->check(CLI::ExistingFile);
  app.add_option("--input", input, "float32 little-endian images [B, 1, 28, 28] (default: seeded uniform values)")
      ->check(CLI::ExistingFile);
  app.add_option("--output", output, "write the log-probabilities [B, 26] as float32")->check(examples::writable_path());
  app.add_option("--mode", mode, "forward or train")->check(CLI::IsMember({"forward", "train"}))->capture_default_str();
  app.add_option("--batch", batch, "images per run")->check(CLI::Range(std::size_t(1), std::size_t(1) << 16))->capture_default_str();
  app.add_option("--threads", threads, "threads")->check(CLI::Range(std::size_t(1), std::size_t(4096)))->capture_default_str();
  app.add_option("--strategy", strategy_name, "parallel strategy, or tuned")->check(examples::strategy_name(true))->capture_default_str();
  app.add_option("--repeat", repeat, "timed runs")->check(CLI::Range(std::size_t(1), std::size_t(10000000)))->capture_default_str();
  app.add_flag("--plan", plan, "print the plan to stderr");
  app.add_option("--machine-profile", machine_profile, "a machine profile written by calibrate (default: the built-in one)")
      ->check(CLI::ExistingFile);
  app.add_flag("--by-layers", by_layers, "train every layer over the whole batch in turn");
  app.add_flag("--no-fusion", no_fusion, "run every layer on its own, forward and backward");
  app.add_flag("--profile", profile, "train: print each phase of the step (us, GFLOP/s, % of peak) to stderr");
  app.add_option("--chunk-images", chunk_images, "images per gradient chunk")
      ->check(CLI::Range(std::size_t(1), std::size_t(1) << 16))->capture_default_str();
  if (const auto status = examples::parse(app, argc, argv)) return *status;

  try {
    if (!machine_profile.empty()) parcnn::use_machine_profile(parcnn::MachineProfile::load(machine_profile));
    const bool train = mode == "train";
    parcnn::Sequential<float> model = parcnn::models::letter_cnn<float>(26);
    parcnn::io::load_safetensors(weights, model);
    model.fuse_post_ops(!no_fusion);
    parcnn::Tensor<float> x(parcnn::Shape{batch, 1, 28, 28});
    if (!input.empty())
      examples::read_file(input, x.data(), x.size() * sizeof(float));
    else
      parcnn::fill_uniform<float>(x, -1.0, 2.0, 1);
    parcnn::Executor arena(threads);
    const parcnn::Strategy strategy = strategy_name == "tuned"
                                          ? parcnn::Strategy(arena.run([&] { return parcnn::tune(model, x.shape()); }))
                                          : parcnn::Strategy::parse(strategy_name);
    if (plan) std::fputs(arena.run([&] { return model.plan(x.shape(), strategy).describe(); }).c_str(), stderr);
    std::vector<std::size_t> labels(batch);
    for (std::size_t n = 0; n < batch; ++n) labels[n] = (n * 7) % 26;
    parcnn::Parameters<float> params(model);
    parcnn::SGD<float> sgd(params.all(), parcnn::SgdOptions{0.01});
    parcnn::Trainer<float> trainer(model, params, sgd, parcnn::TrainerOptions{strategy, chunk_images, !by_layers});
    parcnn::Workspace<float> ws;
    if (profile && train) {
      parcnn::Sequential<float> copy = model;  // profiled on a copy: the timed runs start from the same weights
      parcnn::Parameters<float> copy_params(copy);
      parcnn::SGD<float> copy_sgd(copy_params.all(), parcnn::SgdOptions{0.01});
      const parcnn::StepProfile p = arena.run([&] {
        return parcnn::profile_step<float>(copy, copy_params, copy_sgd, x, labels, trainer.options(), std::max<std::size_t>(repeat, 5));
      });
      std::fputs(p.table().c_str(), stderr);
    }

    if (!output.empty()) {  // before any training step changes the weights
      const auto y = arena.run([&] { return parcnn::Tensor<float>(model.forward(x, strategy, ws)); });
      examples::write_file(output, y.data(), y.size() * sizeof(float));
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
    examples::print_json_line({{"mode", mode},
                               {"batch", batch},
                               {"threads", threads},
                               {"strategy", strategy.name()},
                               {"isa", parcnn::kernels::isa_name(parcnn::kernels::active_isa())},
                               {"ms", median},
                               {"images_per_second", double(batch) / (median / 1e3)}});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parcnn_run: %s\n", e.what());
    return 1;
  }
}
