// parcnn/core/predictions.hpp — the class a model's scores [N, C] predict for each image.
#pragma once

#include <cstddef>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/core/tensor_view.hpp"

namespace parcnn {

// The index of the highest score in row n of [N, C] (the first on ties).
template <class T>
std::size_t argmax_row(TensorView<const T> scores, std::size_t n) {
  std::size_t best = 0;
  for (std::size_t c = 1; c < scores.dim(1); ++c)
    if (scores(n, c) > scores(n, best)) best = c;
  return best;
}

// argmax_row for every row of scores [N, C] (C >= 1): the predicted class of each image.
template <class T>
std::vector<std::size_t> predictions(TensorView<const T> scores) {
  if (scores.rank() != 2 || scores.dim(1) == 0)
    throw ShapeError("predictions: expected scores [N, C] with C >= 1, got " + scores.shape().str());
  std::vector<std::size_t> out(scores.dim(0));
  for (std::size_t n = 0; n < scores.dim(0); ++n) out[n] = argmax_row(scores, n);
  return out;
}

}  // namespace parcnn
