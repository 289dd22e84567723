// quickstart — the shortest useful parcnn program: build the letter CNN, classify a batch.
#include <parcnn/parcnn.hpp>

#include <cstdio>

int main() {
  // The guide's network with seeded He/Xavier weights, 26 classes (letters A–Z).
  const parcnn::Sequential<float> model = parcnn::models::letter_cnn<float>(26, /*seed=*/42);

  // A batch of 8 images [N, C, H, W] = [8, 1, 28, 28]; real data would be read into it instead.
  parcnn::Tensor<float> images(parcnn::Shape{8, 1, 28, 28});
  parcnn::fill_uniform<float>(images, 0.0, 1.0, /*seed=*/7);

  // Two workers; a plan for this input shape on them, decided once (auto's choice per layer), and a
  // workspace that holds the activations from one call to the next.
  parcnn::Executor two(2);
  const parcnn::Plan plan = model.plan(images.shape(), parcnn::strategy::Auto{}, two);
  parcnn::Workspace<float> ws;
  const parcnn::Tensor<float> log_probs(model.forward(images, plan, ws, two));

  for (std::size_t n = 0; n < log_probs.dim(0); ++n) {
    std::size_t best = 0;
    for (std::size_t c = 1; c < log_probs.dim(1); ++c)
      if (log_probs(n, c) > log_probs(n, best)) best = c;
    std::printf("image %zu: letter %c (log-probability %.3f)\n", n, char('A' + best), double(log_probs(n, best)));
  }
  std::printf("\n%s", plan.describe().c_str());  // what ran: each stage's cut, kernel and why
}
