// custom_model — a CNN of one's own, end to end: define it, initialise it, train a few steps with a
// hand-written loop (forward, loss, backward, step), save it, load it into a fresh copy, predict.
//
// The task: 3×32×32 images whose class is the colour channel that is brightest. Exits 1 unless the loss
// falls and the loaded copy predicts what the trained model does.
#include <parcnn/parcnn.hpp>

#include <cstdio>
#include <string>
#include <vector>

using namespace parcnn;

// The network: two convolution blocks with BatchNorm and ReLU, global average pooling, a classifier.
Sequential<float> make_model() {
  Sequential<float> m;
  m.add("conv1", Conv2d<float>(3, 16, 3, 1, 1, false)).add("bn1", BatchNorm2d<float>(16)).add("relu1", ReLU<float>());
  m.add("pool1", MaxPool2d<float>(2));
  m.add("conv2", Conv2d<float>(16, 32, 3, 1, 1, false)).add("bn2", BatchNorm2d<float>(32)).add("relu2", ReLU<float>());
  m.add("pool", AdaptiveAvgPool2d<float>(1)).add("flatten", Flatten<float>()).add("dropout", Dropout<float>(0.1));
  m.add("fc", Linear<float>(32, 3));
  return m;
}

// A batch of the task: noise, plus a brighter channel (the label).
void make_batch(std::size_t n, std::uint64_t seed, Tensor<float>& x, std::vector<std::size_t>& labels) {
  x = Tensor<float>(Shape{n, 3, 32, 32});
  fill_uniform<float>(x, 0, 1, seed);
  labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    labels[i] = (seed + i) % 3;
    for (std::size_t p = 0; p < 32 * 32; ++p) x.data()[(i * 3 + labels[i]) * 32 * 32 + p] += 0.5f;
  }
}

int main() {
  try {
    manual_seed(42);  // PyTorch's default initialisation, reproducibly
    Sequential<float> model = make_model();
    Parameters<float> params(model);
    SGD<float> sgd(params.all(), SgdOptions{0.05, 0.9});
    LrScheduler scheduler(sgd, CosineAnnealingLR{20});

    Workspace<float> ws;
    Tensor<float> x, grad;
    std::vector<std::size_t> labels;
    double first_loss = 0, loss = 0;
    for (std::size_t step = 0; step < 20; ++step) {
      make_batch(16, step, x, labels);
      const TensorView<const float> scores = model.forward_for_backward(x, strategy::Auto{}, ws);
      grad.resize(scores.shape());
      loss = cross_entropy_loss(scores, labels, grad.view());
      sgd.zero_grad();
      backward(model, x, grad, params, ws);
      sgd.step();
      scheduler.step();
      if (step == 0) first_loss = loss;
      std::printf("step %2zu  loss %.4f  lr %.4f\n", step, loss, scheduler.lr());
    }

    model.eval();
    const std::string path = "custom_model.safetensors";
    io::save_safetensors(path, model);
    Sequential<float> copy = make_model();
    io::load_safetensors(path, copy);

    make_batch(30, 1000, x, labels);
    const std::vector<std::size_t> predicted = predictions<float>(model.forward(x));
    const std::vector<std::size_t> again = predictions<float>(copy.forward(x));
    std::size_t correct = 0;
    for (std::size_t i = 0; i < labels.size(); ++i) correct += predicted[i] == labels[i];
    std::printf("loss %.4f -> %.4f; %zu of %zu held-out images right; the loaded copy predicts %s\n", first_loss, loss,
                correct, labels.size(), predicted == again ? "the same" : "DIFFERENTLY");
    return loss < 0.5 * first_loss && predicted == again ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "custom_model: %s\n", e.what());
    return 1;
  }
}
