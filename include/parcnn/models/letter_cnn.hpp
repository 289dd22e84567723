// parcnn/models/letter_cnn.hpp — the guide's reference network.
//
//   [N, 1, 28, 28] → conv1 3×3 1→32 → pool1 2×2 → gelu1 → conv2 3×3 32→64 → pool2 → gelu2
//   → conv3 3×3 64→128 → pool3 → gelu3 → flatten [N, 128] → fc1 512 → gelu4 → fc2 256 → gelu5
//   → fc3 classes → log_softmax
//
// Layer names follow the PyTorch module names of the same network, so parameters are "conv1.weight",
// "fc3.bias", and so on. Weights are drawn with a seed (layers/init.hpp), by one of two schemes:
//   LetterCnnInit::he_xavier      Kaiming-normal for ReLU-like (std √(2 / fan_in)) for the layers
//                                 followed by GELU, Xavier-uniform for the output layer, biases zero
//                                 (the default);
//   LetterCnnInit::torch_default  what torch.nn.Conv2d and torch.nn.Linear start from (the layers' own
//                                 default, init::torch_default), for runs meant to match a PyTorch
//                                 training of the same network.
#pragma once

#include <cmath>
#include <cstdint>

#include "parcnn/core/random.hpp"
#include "parcnn/layers/conv2d.hpp"
#include "parcnn/layers/flatten.hpp"
#include "parcnn/layers/gelu.hpp"
#include "parcnn/layers/init.hpp"
#include "parcnn/layers/linear.hpp"
#include "parcnn/layers/log_softmax.hpp"
#include "parcnn/layers/maxpool2d.hpp"
#include "parcnn/layers/sequential.hpp"

namespace parcnn::models {

inline const Shape letter_cnn_input{1, 1, 28, 28};  // one image; the batch is the first dimension

enum class LetterCnnInit { he_xavier, torch_default };

template <class T>
Sequential<T> letter_cnn(std::size_t classes = 26, std::uint64_t seed = 0,
                         GeluApproximation gelu = GeluApproximation::tanh, LetterCnnInit scheme = LetterCnnInit::he_xavier) {
  if (classes == 0) throw ConfigError("letter_cnn: the number of classes must be at least 1");
  // Each layer's weights from seed·1000 + its number (1 to 6); a bias from a seed of its own.
  auto initialise = [&](auto& layer, std::uint64_t number, bool output) {
    const std::uint64_t s = seed * 1000 + number;
    if (scheme == LetterCnnInit::torch_default) return layer.reset_parameters(s);
    if (output)
      init::XavierUniform{}(layer.weight().view(), s);
    else
      init::KaimingNormal{0, init::FanMode::fan_in, init::Nonlinearity::relu}(layer.weight().view(), s);
    init::Zeros{}(layer.bias().view());
  };
  auto conv = [&](std::size_t in, std::size_t out, std::uint64_t number) {
    Conv2d<T> c(in, out, 3);
    initialise(c, number, false);
    return c;
  };
  auto linear = [&](std::size_t in, std::size_t out, std::uint64_t number, bool output) {
    Linear<T> l(in, out);
    initialise(l, number, output);
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
