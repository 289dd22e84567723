// parcnn/layers/init.hpp — parameter initialisers, as torch.nn.init defines them, and applying one to a
// model's parameters by name.
//
//   init::apply(model, "weight", init::KaimingNormal{0, init::FanMode::fan_out, init::Nonlinearity::relu}, 7);
//   init::apply(model, "bias", init::Zeros{});
//   init::apply(model, "fc3", init::XavierUniform{});   // fc3.weight and fc3.bias
//
// Every initialiser is a function object `init(tensor, seed)`; the random ones draw from the seeded,
// platform-independent fills of core/random.hpp. Layers with parameters start from PyTorch's default
// (torch_default below: Conv2d, Linear), seeded by next_default_seed().
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/core/random.hpp"
#include "parcnn/core/shape.hpp"
#include "parcnn/core/tensor_view.hpp"
#include "parcnn/layers/layer.hpp"

namespace parcnn::init {

enum class FanMode { fan_in, fan_out };
enum class Nonlinearity { linear, sigmoid, tanh, relu, leaky_relu };

// torch.nn.init.calculate_gain: 1 (linear, sigmoid), 5/3 (tanh), √2 (relu), √(2 / (1 + slope²)) (leaky_relu).
inline double gain(Nonlinearity f, double slope = 0.01) {
  switch (f) {
    case Nonlinearity::linear:
    case Nonlinearity::sigmoid: return 1.0;
    case Nonlinearity::tanh: return 5.0 / 3.0;
    case Nonlinearity::relu: return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: return std::sqrt(2.0 / (1.0 + slope * slope));
  }
  return 1.0;
}

// A weight's fan-in and fan-out, as PyTorch counts them: [out, in, k...] has in·Πk inputs and out·Πk
// outputs per value. ConfigError below two dimensions (a bias has no fans of its own).
struct Fans {
  std::size_t in = 0, out = 0;
};
inline Fans fans(const Shape& weight) {
  if (weight.rank() < 2)
    throw ConfigError("init: fan-in and fan-out need a weight of at least 2 dimensions, got " + weight.str());
  std::size_t receptive = 1;
  for (std::size_t d = 2; d < weight.rank(); ++d) receptive *= weight[d];
  return {weight[1] * receptive, weight[0] * receptive};
}

struct Zeros {
  template <class T>
  void operator()(TensorView<T> t, std::uint64_t = 0) const {
    for (T& v : t) v = T(0);
  }
};

struct Constant {
  double value = 0;
  template <class T>
  void operator()(TensorView<T> t, std::uint64_t = 0) const {
    for (T& v : t) v = T(value);
  }
};

// Uniform in [lo, hi).
struct Uniform {
  double lo = 0, hi = 1;
  template <class T>
  void operator()(TensorView<T> t, std::uint64_t seed) const {
    fill_uniform(t, lo, hi, seed);
  }
};

struct Normal {
  double mean = 0, stddev = 1;
  template <class T>
  void operator()(TensorView<T> t, std::uint64_t seed) const {
    fill_normal(t, mean, stddev, seed);
  }
};

// He: std = gain(nonlinearity, a) / √fan; kaiming_uniform_ draws from ±√3·std, kaiming_normal_ from
// N(0, std²). `a` is the leaky_relu slope (PyTorch's meaning).
struct KaimingUniform {
  double a = 0;
  FanMode mode = FanMode::fan_in;
  Nonlinearity nonlinearity = Nonlinearity::leaky_relu;
  template <class T>
  void operator()(TensorView<T> t, std::uint64_t seed) const {
    const double bound = std::sqrt(3.0) * stddev(t.shape());
    fill_uniform(t, -bound, bound, seed);
  }
  double stddev(const Shape& s) const {
    const Fans f = fans(s);
    return gain(nonlinearity, a) / std::sqrt(double(mode == FanMode::fan_in ? f.in : f.out));
  }
};

struct KaimingNormal {
  double a = 0;
  FanMode mode = FanMode::fan_in;
  Nonlinearity nonlinearity = Nonlinearity::leaky_relu;
  template <class T>
  void operator()(TensorView<T> t, std::uint64_t seed) const {
    fill_normal(t, 0.0, KaimingUniform{a, mode, nonlinearity}.stddev(t.shape()), seed);
  }
};

// Glorot: std = gain · √(2 / (fan_in + fan_out)); uniform from ±√3·std, normal N(0, std²).
struct XavierUniform {
  double gain = 1;
  template <class T>
  void operator()(TensorView<T> t, std::uint64_t seed) const {
    const Fans f = fans(t.shape());
    const double bound = gain * std::sqrt(6.0 / double(f.in + f.out));
    fill_uniform(t, -bound, bound, seed);
  }
};

struct XavierNormal {
  double gain = 1;
  template <class T>
  void operator()(TensorView<T> t, std::uint64_t seed) const {
    const Fans f = fans(t.shape());
    fill_normal(t, 0.0, gain * std::sqrt(2.0 / double(f.in + f.out)), seed);
  }
};

// PyTorch's default for Conv2d and Linear (their reset_parameters): the weight Kaiming-uniform with
// a = √5, which is uniform in ±1/√fan_in, and the bias (may be empty) uniform in ±1/√fan_in.
template <class T>
void torch_default(TensorView<T> weight, TensorView<T> bias, std::uint64_t seed) {
  KaimingUniform{std::sqrt(5.0)}(weight, mix_seed(seed, 0));
  const double bound = 1.0 / std::sqrt(double(fans(weight.shape()).in));
  if (!bias.empty()) fill_uniform(bias, -bound, bound, mix_seed(seed, 1));
}

// Whether parameter `name` is selected by `pattern`: "*", the name itself, its last parts ("weight"
// selects "conv1.weight"; "conv.weight" selects "block1.conv.weight") or its first parts ("conv1"
// selects "conv1.weight" and "conv1.bias").
inline bool selects(const std::string& pattern, const std::string& name) {
  if (pattern == "*" || pattern == name) return true;
  if (pattern.empty() || pattern.size() >= name.size()) return false;
  const std::size_t tail = name.size() - pattern.size();
  return (name.compare(tail, std::string::npos, pattern) == 0 && name[tail - 1] == '.') ||
         (name.compare(0, pattern.size(), pattern) == 0 && name[pattern.size()] == '.');
}

// Runs `init` on every parameter of `model` that `pattern` selects, each with the seed
// mix_seed(seed, its name) — the same values whatever else is initialised and in what order. Returns how
// many were initialised; ConfigError, naming the model's parameters, when none is selected.
template <class T, class Init>
std::size_t apply(Layer<T>& model, const std::string& pattern, const Init& init, std::uint64_t seed = 0) {
  std::size_t applied = 0;
  std::string names;
  for (const NamedParameter<T>& p : model.parameters()) {
    names += (names.empty() ? "" : ", ") + p.name;
    if (!selects(pattern, p.name)) continue;
    try {
      init(p.tensor->view(), mix_seed(seed, p.name));
    } catch (const ConfigError& e) {
      throw ConfigError(model.name() + ": parameter '" + p.name + "': " + e.what());
    }
    ++applied;
  }
  if (applied == 0)
    throw ConfigError(model.name() + ": no parameter is selected by '" + pattern + "'; its parameters are " +
                      (names.empty() ? std::string("none") : names));
  return applied;
}

}  // namespace parcnn::init
