// parcnn/models/small_resnet.hpp — a small ResNet for 28×28 (or any size) images: the second reference
// network, and a template for one's own.
//
//   [N, C, H, W] → conv1 3×3 C→w, bn1, relu1
//   → block1: Residual(conv 3×3 w→w, bn, relu, conv 3×3, bn) + identity, relu2
//   → block2: Residual(conv 3×3 stride 2 w→2w, bn, relu, conv 3×3, bn) + projection (1×1 stride 2, bn), relu3
//   → block3: the same, 2w→4w, relu4
//   → pool (global average) → flatten → fc 4w→classes: raw scores (train with Loss::cross_entropy)
//
// Parameter names follow a PyTorch module with the same attributes (conv1, bn1, block1.conv1, ...,
// block2.shortcut.0, fc; bench/torch_resnet.py), so weights move between the two. Every layer starts
// from its default (PyTorch's) initialisation, seeded: reset_parameters(seed).
#pragma once

#include <cstdint>

#include "parcnn/core/error.hpp"
#include "parcnn/layers/adaptive_avgpool2d.hpp"
#include "parcnn/layers/batch_norm2d.hpp"
#include "parcnn/layers/conv2d.hpp"
#include "parcnn/layers/flatten.hpp"
#include "parcnn/layers/linear.hpp"
#include "parcnn/layers/relu.hpp"
#include "parcnn/layers/residual.hpp"
#include "parcnn/layers/sequential.hpp"

namespace parcnn::models {

// A basic block: conv1 3×3 (stride), bn1, relu, conv2 3×3, bn2; with a projection (conv 1×1 stride, bn)
// on the shortcut when the stride or the channels change.
template <class T>
Residual<T> basic_block(std::size_t in_channels, std::size_t out_channels, std::size_t stride) {
  Sequential<T> body;
  body.add("conv1", Conv2d<T>(in_channels, out_channels, 3, stride, 1, false)).add("bn1", BatchNorm2d<T>(out_channels));
  body.add("relu", ReLU<T>()).add("conv2", Conv2d<T>(out_channels, out_channels, 3, 1, 1, false));
  body.add("bn2", BatchNorm2d<T>(out_channels));
  Sequential<T> shortcut;
  if (stride != 1 || in_channels != out_channels)
    shortcut.add("0", Conv2d<T>(in_channels, out_channels, 1, stride, 0, false)).add("1", BatchNorm2d<T>(out_channels));
  return Residual<T>(std::move(body), std::move(shortcut));
}

template <class T>
Sequential<T> small_resnet(std::size_t classes = 10, std::size_t in_channels = 1, std::size_t width = 16,
                           std::uint64_t seed = 0) {
  if (classes == 0 || in_channels == 0 || width == 0)
    throw ConfigError("small_resnet: classes, input channels and width must be at least 1");
  Sequential<T> m;
  m.add("conv1", Conv2d<T>(in_channels, width, 3, 1, 1, false)).add("bn1", BatchNorm2d<T>(width)).add("relu1", ReLU<T>());
  m.add("block1", basic_block<T>(width, width, 1)).add("relu2", ReLU<T>());
  m.add("block2", basic_block<T>(width, 2 * width, 2)).add("relu3", ReLU<T>());
  m.add("block3", basic_block<T>(2 * width, 4 * width, 2)).add("relu4", ReLU<T>());
  m.add("pool", AdaptiveAvgPool2d<T>(1)).add("flatten", Flatten<T>()).add("fc", Linear<T>(4 * width, classes));
  m.reset_parameters(seed);
  return m;
}

}  // namespace parcnn::models
