// parcnn/models/letter_cnn.hpp — the guide's reference network.
//
//   [N, 1, 28, 28] → conv1 3×3 1→32 → pool1 2×2 → gelu1 → conv2 3×3 32→64 → pool2 → gelu2
//   → conv3 3×3 64→128 → pool3 → gelu3 → flatten [N, 128] → fc1 512 → gelu4 → fc2 256 → gelu5
//   → fc3 classes → log_softmax
//
// Layer names follow the PyTorch module names of the same network, so parameters are "conv1.weight",
// "fc3.bias", and so on. Weights are drawn with a seed, by one of two schemes:
//   LetterCnnInit::he_xavier      He-normal (std √(2 / fan_in)) for the layers followed by GELU,
//                                 Xavier-uniform for the output layer, biases zero (the default);
//   LetterCnnInit::torch_default  weights and biases uniform in ±1/√fan_in, what torch.nn.Conv2d and
//                                 torch.nn.Linear start from (kaiming_uniform with a = √5), for runs
//                                 meant to match a PyTorch training of the same network.
#pragma once

#include <cmath>
#include <cstdint>

#include "parcnn/core/random.hpp"
#include "parcnn/layers/conv2d.hpp"
#include "parcnn/layers/flatten.hpp"
#include "parcnn/layers/gelu.hpp"
#include "parcnn/layers/linear.hpp"
#include "parcnn/layers/log_softmax.hpp"
#include "parcnn/layers/maxpool2d.hpp"
#include "parcnn/layers/sequential.hpp"

namespace parcnn::models {

inline const Shape letter_cnn_input{1, 1, 28, 28};  // one image; the batch is the first dimension

// He-normal weights, zero bias: for a layer followed by a ReLU-like activation such as GELU.
template <class T>
void init_he_normal(TensorView<T> weight, TensorView<T> bias, std::size_t fan_in, std::uint64_t seed) {
  fill_normal(weight, 0.0, std::sqrt(2.0 / double(fan_in)), seed);
  std::fill(bias.begin(), bias.end(), T(0));
}

// Xavier(Glorot)-uniform weights, zero bias: for the output layer.
template <class T>
void init_xavier_uniform(TensorView<T> weight, TensorView<T> bias, std::size_t fan_in, std::size_t fan_out,
                         std::uint64_t seed) {
  const double bound = std::sqrt(6.0 / double(fan_in + fan_out));
  fill_uniform(weight, -bound, bound, seed);
  std::fill(bias.begin(), bias.end(), T(0));
}

// Weights and biases uniform in ±1/√fan_in: PyTorch's default for Conv2d and Linear.
template <class T>
void init_torch_default(TensorView<T> weight, TensorView<T> bias, std::size_t fan_in, std::uint64_t seed) {
  const double bound = 1.0 / std::sqrt(double(fan_in));
  fill_uniform(weight, -bound, bound, seed);
  fill_uniform(bias, -bound, bound, seed + 0x5EED);
}

enum class LetterCnnInit { he_xavier, torch_default };

template <class T>
Sequential<T> letter_cnn(std::size_t classes = 26, std::uint64_t seed = 0,
                         GeluApproximation gelu = GeluApproximation::tanh, LetterCnnInit init = LetterCnnInit::he_xavier) {
  if (classes == 0) throw ConfigError("letter_cnn: the number of classes must be at least 1");
  auto conv = [&](std::size_t in, std::size_t out, std::uint64_t layer_seed) {
    Conv2d<T> c(in, out, 3);
    if (init == LetterCnnInit::torch_default)
      init_torch_default<T>(c.weight(), c.bias(), in * 9, seed * 1000 + layer_seed);
    else
      init_he_normal<T>(c.weight(), c.bias(), in * 9, seed * 1000 + layer_seed);
    return c;
  };
  auto linear = [&](std::size_t in, std::size_t out, std::uint64_t layer_seed, bool output) {
    Linear<T> l(in, out);
    if (init == LetterCnnInit::torch_default)
      init_torch_default<T>(l.weight(), l.bias(), in, seed * 1000 + layer_seed);
    else if (output)
      init_xavier_uniform<T>(l.weight(), l.bias(), in, out, seed * 1000 + layer_seed);
    else
      init_he_normal<T>(l.weight(), l.bias(), in, seed * 1000 + layer_seed);
    return l;
  };
  Sequential<T> m;
  m.add("conv1", conv(1, 32, 1)).add("pool1", MaxPool2d<T>(2)).add("gelu1", GELU<T>(gelu));
  m.add("conv2", conv(32, 64, 2)).add("pool2", MaxPool2d<T>(2)).add("gelu2", GELU<T>(gelu));
  m.add("conv3", conv(64, 128, 3)).add("pool3", MaxPool2d<T>(2)).add("gelu3", GELU<T>(gelu));
  m.add("flatten", Flatten<T>());
  m.add("fc1", linear(128, 512, 4, false)).add("gelu4", GELU<T>(gelu));
  m.add("fc2", linear(512, 256, 5, false)).add("gelu5", GELU<T>(gelu));
  m.add("fc3", linear(256, classes, 6, true)).add("log_softmax", LogSoftmax<T>());
  return m;
}

}  // namespace parcnn::models
