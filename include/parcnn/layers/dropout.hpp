// parcnn/layers/dropout.hpp — Dropout: in a training-mode forward_for_backward, each value zeroed with
// probability p and the others scaled by 1 / (1 − p), as torch.nn.Dropout; the identity otherwise
// (forward, evaluation mode).
//
// The mask is drawn from the layer's seed, the number of training passes it has run and each value's
// place in the batch (kernels/dropout.hpp): the same on every thread count and cut, different at every
// pass, and drawn again by the backward pass. A value's mask depends on its image's place in the batch,
// so a model with Dropout trains layer by layer over the whole batch (Layer::couples_images), and the
// pass count makes a training-mode forward_for_backward change the layer: call it from one thread at a
// time, and run its backward pass in the same workspace before the next.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <memory>
#include <string>

#include "parcnn/core/error.hpp"
#include "parcnn/core/random.hpp"
#include "parcnn/kernels/cost.hpp"
#include "parcnn/kernels/dropout.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/parallel/executor.hpp"
#include "parcnn/parallel/run.hpp"

namespace parcnn {

template <class T>
class Dropout final : public Layer<T> {
 public:
  // p in [0, 1); the seed of its masks, by default the next of next_default_seed().
  explicit Dropout(double p = 0.5, std::uint64_t seed = next_default_seed()) : p_(p), seed_(seed) {
    if (!(p_ >= 0 && p_ < 1)) throw ConfigError(name() + ": the drop probability must lie in [0, 1)");
  }
  Dropout(const Dropout& other) : Layer<T>(other), p_(other.p_), seed_(other.seed_), passes_(other.passes_.load()) {}

  std::string name() const override {
    char p[32];
    std::snprintf(p, sizeof p, "%g", p_);
    return std::string("Dropout(p=") + p + ")";
  }

  double p() const { return p_; }
  std::uint64_t seed() const { return seed_; }
  // Training passes run so far (the next one's masks are those of this count).
  std::uint64_t passes() const { return passes_.load(); }
  // Sets the seed and the pass count (to resume from a checkpoint, say).
  void reseed(std::uint64_t seed, std::uint64_t passes = 0) {
    seed_ = seed;
    passes_.store(passes);
  }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Dropout>(*this); }

  bool couples_images() const override { return this->training() && p_ > 0; }

  Shape output_shape(const Shape& in) const override {
    if (in.rank() == 0 || in.has_zero_dim())
      throw ShapeError(name() + ": expected a non-empty input of rank 1 to 4, got " + in.str());
    return in;
  }

  Workload workload(const Shape& in) const override {
    Workload w;
    w.space = IndexSpace{in.rank() > 1 ? in[0] : 1};
    w.bytes = 2.0 * double(sizeof(T)) * double(in.numel());
    w.flops = double(in.numel());
    w.one_core_ns = kernels::cost::copy_ns(w.bytes);
    return w;
  }

 protected:
  void run(TensorView<const T> in, TensorView<T> out, const Strategy&, Workspace<T>&) const override {
    std::copy(in.begin(), in.end(), out.begin());
  }

  void run_for_backward(TensorView<const T> in, TensorView<T> out, const Strategy& strategy,
                        Workspace<T>& ws) const override {
    if (!couples_images()) return run(in, out, strategy, ws);
    const std::uint64_t key = mix_seed(seed_, passes_.fetch_add(1));
    ws.template state<Key>().value = key;
    each_block(in.size(), [&](std::size_t first, std::size_t count) {
      kernels::dropout(key, p_, scale(), first, in.data() + first, out.data() + first, count);
    });
  }

  void run_backward(TensorView<const T> in, TensorView<const T>, TensorView<const T> grad_out, TensorView<T> grad_in,
                    GradientSlice<T>, Workspace<T>& ws) const override {
    if (grad_in.empty()) return;
    if (!couples_images()) {
      std::copy(grad_out.begin(), grad_out.end(), grad_in.begin());
      return;
    }
    const std::uint64_t key = ws.template state<Key>().value;
    each_block(in.size(), [&](std::size_t first, std::size_t count) {
      kernels::dropout_backward(key, p_, scale(), first, grad_out.data() + first, grad_in.data() + first, count);
    });
  }

 private:
  struct Key {
    std::uint64_t value = 0;  // the mask's key of the last training pass in this workspace
  };

  T scale() const { return T(1.0 / (1.0 - p_)); }

  // f(first, count) over runs of 64k values, in parallel: the mask of a value depends on its index alone.
  template <class F>
  void each_block(std::size_t n, F&& f) const {
    constexpr std::size_t run = 65536;
    run_blocks(IndexSpace{(n + run - 1) / run}, Cut{}, [&](const Block& blk, std::size_t) {
      for (std::size_t b = blk.n.begin; b < blk.n.end; ++b) f(b * run, std::min(run, n - b * run));
    });
  }

  double p_;
  std::uint64_t seed_;
  mutable std::atomic<std::uint64_t> passes_{0};
};

}  // namespace parcnn
