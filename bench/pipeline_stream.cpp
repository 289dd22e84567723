// pipeline_stream — a stream of requests through a model three ways, on the same threads:
//   pipeline     ModelPipeline: the model cut into --stages stages of even measured times
//                (ModelPipeline::measured_cuts), one worker each, the requests flowing through
//   one by one   each request in turn on all the threads, as its plan cuts it (Auto: the batch cut,
//                depth-first, or channels and rows at batch 1)
//   one batch    the whole stream as one batch on all the threads (depth-first blocks): the most
//                throughput, every request waiting for the last
// Prints, per way, the throughput (images/s) and each request's latency (median and 95th percentile,
// from the stream's start for "one batch", else from the request's own start), and for the pipeline
// the fill-and-drain bubble against (S − 1)/(M + S − 1), the idle share and each stage's busy time.
// Medians over --rounds alternating rounds, after one untimed round of each (plans made, memory touched).
// The outputs of the three are checked bitwise against each other.
//
//   pipeline_stream [--model letter|resnet] [--requests 128] [--micro-batch 1] [--stages 2 [--estimated] | --cuts 6]
//                   [--in-flight 4] [--threads 2] [--rounds 5]
#include <parcnn/parcnn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "../examples/cli.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double since_us(Clock::time_point t0) { return std::chrono::duration<double, std::micro>(Clock::now() - t0).count(); }

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, std::size_t(q * double(v.size())))];
}

double median(std::vector<double> v) { return quantile(std::move(v), 0.5); }

struct Round {
  double seconds = 0, latency_p50 = 0, latency_p95 = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A stream of requests through a model as a pipeline, one by one and as one batch; prints the figures."};
  std::string model_name = "letter";
  std::vector<std::size_t> cuts;
  bool estimated = false;
  std::size_t in_flight = 0;
  std::size_t requests = 128, micro = 1, stages = parcnn::hardware_threads(), threads = parcnn::hardware_threads(),
              rounds = 5;
  app.add_option("--model", model_name, "letter (the letter CNN) or resnet (models::small_resnet, eval mode)")
      ->check(CLI::IsMember({"letter", "resnet"}))
      ->capture_default_str();
  app.add_option("--requests", requests, "requests in the stream")->check(CLI::Range(std::size_t(1), std::size_t(1) << 16))->capture_default_str();
  app.add_option("--micro-batch", micro, "images per request")->check(CLI::Range(std::size_t(1), std::size_t(4096)))->capture_default_str();
  app.add_option("--stages", stages, "pipeline stages (one worker each)")->check(CLI::Range(std::size_t(1), std::size_t(64)))->capture_default_str();
  app.add_option("--cuts", cuts, "the pipeline's cuts, layer indices (default: ModelPipeline::measured_cuts)")->delimiter(',');
  app.add_flag("--estimated", estimated, "cut by the one-core estimates (ModelPipeline::balanced_cuts), not by measured times");
  app.add_option("--in-flight", in_flight, "micro-batches in the pipeline at once (0: two per stage)")->capture_default_str();
  app.add_option("--threads", threads, "threads of the one-by-one and one-batch runs")->check(CLI::Range(std::size_t(1), std::size_t(4096)))->capture_default_str();
  app.add_option("--rounds", rounds, "timed rounds of each")->check(CLI::Range(std::size_t(1), std::size_t(1000)))->capture_default_str();
  if (const auto status = examples::parse(app, argc, argv)) return *status;

  try {
    parcnn::Sequential<float> model =
        model_name == "letter" ? parcnn::models::letter_cnn<float>(26, 1) : parcnn::models::small_resnet<float>(10, 1, 16, 1);
    model.train(false);
    const parcnn::Shape one{micro, 1, 28, 28};
    if (stages > model.size()) throw parcnn::ConfigError("--stages " + std::to_string(stages) + " for a model of " + std::to_string(model.size()) + " layers");
    parcnn::Tensor<float> stream(parcnn::Shape{requests * micro, 1, 28, 28});
    parcnn::fill_uniform<float>(stream, -1.0, 2.0, 7);
    std::vector<parcnn::TensorView<const float>> in;
    for (std::size_t r = 0; r < requests; ++r) in.push_back(parcnn::TensorView<const float>(stream.view()).batch(r * micro, (r + 1) * micro));
    const parcnn::Shape out_one = model.output_shape(one);
    parcnn::Tensor<float> y_pipe(model.output_shape(stream.shape())), y_each(y_pipe.shape()), y_batch(y_pipe.shape());
    std::vector<parcnn::TensorView<float>> out;
    for (std::size_t r = 0; r < requests; ++r) out.push_back(y_pipe.view().batch(r * micro, (r + 1) * micro));

    if (cuts.empty())
      cuts = estimated ? parcnn::ModelPipeline<float>::balanced_cuts(model, one, stages)
                       : parcnn::ModelPipeline<float>::measured_cuts(model, one, stages);
    stages = cuts.size() + 1;
    parcnn::ModelPipelineOptions options;
    options.in_flight = in_flight;
    parcnn::ModelPipeline<float> pipe(model, cuts, options);
    parcnn::Executor executor(threads);
    parcnn::Workspace<float> ws_each, ws_batch;
    const parcnn::Plan plan_each = model.plan(one, parcnn::strategy::Auto{}, executor);
    const parcnn::Plan plan_batch = model.plan(stream.shape(), parcnn::strategy::Auto{}, executor);
    std::printf("%s, %zu requests of %zu image(s); pipeline of %zu stage(s), one worker each; one by one and one batch "
                "on %zu thread(s); medians of %zu rounds\n",
                model_name == "letter" ? "letter CNN" : "small ResNet (eval)", requests, micro, stages, threads, rounds);
    std::fputs(pipe.describe(one).c_str(), stdout);

    std::vector<Round> pipe_rounds, each_rounds, batch_rounds;
    std::vector<double> bubbles, idles;
    std::vector<std::vector<double>> busy(stages);
    for (std::size_t round = 0; round <= rounds; ++round) {  // round 0: warm-up, not counted
      Round p, e, b;
      Clock::time_point t0 = Clock::now();
      pipe.run(in, out);
      p.seconds = since_us(t0) / 1e6;
      const parcnn::PipelineTrace& trace = pipe.trace();
      p.latency_p50 = median(trace.latencies_us()), p.latency_p95 = quantile(trace.latencies_us(), 0.95);

      std::vector<double> lat;
      t0 = Clock::now();
      executor.run([&] {
        for (std::size_t r = 0; r < requests; ++r) {
          const Clock::time_point t1 = Clock::now();
          const parcnn::TensorView<const float> y = model.forward(in[r], plan_each, ws_each);
          std::memcpy(y_each.data() + r * out_one.numel(), y.data(), out_one.numel() * sizeof(float));
          lat.push_back(since_us(t1));
        }
      });
      e.seconds = since_us(t0) / 1e6;
      e.latency_p50 = median(lat), e.latency_p95 = quantile(lat, 0.95);

      t0 = Clock::now();
      const parcnn::TensorView<const float> y = model.forward(stream.view(), plan_batch, ws_batch, executor);
      std::copy(y.begin(), y.end(), y_batch.data());
      b.seconds = since_us(t0) / 1e6;
      b.latency_p50 = b.latency_p95 = b.seconds * 1e6;  // every request waits for the whole batch

      if (round == 0) {
        if (!parcnn::bitwise_equal<float>(y_pipe.view(), y_each.view()) || !parcnn::bitwise_equal<float>(y_pipe.view(), y_batch.view()))
          throw std::runtime_error("the three ways disagree: the pipeline's outputs are not the forward's bits");
        continue;
      }
      pipe_rounds.push_back(p), each_rounds.push_back(e), batch_rounds.push_back(b);
      bubbles.push_back(trace.bubble()), idles.push_back(trace.idle_share());
      for (std::size_t s = 0; s < stages; ++s) busy[s].push_back(trace.busy_us(s) / trace.makespan_us());
    }
    const double images = double(requests * micro);
    auto row = [&](const char* name, const std::vector<Round>& rs) {
      std::vector<double> ips, p50, p95;
      for (const Round& r : rs) ips.push_back(images / r.seconds), p50.push_back(r.latency_p50), p95.push_back(r.latency_p95);
      std::printf("  %-11s %9.0f images/s   latency median %9.1f us   95th %9.1f us\n", name, median(ips), median(p50), median(p95));
    };
    row("pipeline", pipe_rounds);
    row("one by one", each_rounds);
    row("one batch", batch_rounds);
    std::printf("  pipeline bubble %.2f %% (formula (S-1)/(M+S-1): %.2f %%), idle share %.2f %%, stage busy:",
                100 * median(bubbles), 100 * parcnn::PipelineTrace::ideal_bubble(stages, requests), 100 * median(idles));
    for (std::size_t s = 0; s < stages; ++s) std::printf(" %.1f %%", 100 * median(busy[s]));
    std::printf("\n  outputs: the three ways bitwise equal\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pipeline_stream: %s\n", e.what());
    return 1;
  }
}
