// parcnn/train/optimizer.hpp — what every optimizer offers, and parameter groups.
//
// As in PyTorch, an optimizer updates groups of parameters, each group with its own options (a lower
// learning rate for some layers, no weight decay for biases), and `group(i).options` may be changed
// between steps (learning-rate schedules). Updates are elementwise: they run in parallel, and every
// element's new value is the same whatever the thread count.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "parcnn/core/error.hpp"
#include "parcnn/parallel/index_space.hpp"
#include "parcnn/parallel/run.hpp"
#include "parcnn/train/parameters.hpp"

namespace parcnn {

template <class T>
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  virtual void zero_grad() = 0;
};

namespace detail {
// Runs f(i) for i in [0, n) in parallel blocks of fixed size.
template <class F>
void for_each_element(std::size_t n, F&& f) {
  run_blocks(IndexSpace{n}, Cut{16384, 1, 1, 1}, [&](const Block& blk, std::size_t) {
    for (std::size_t i = blk.n.begin; i < blk.n.end; ++i) f(i);
  });
}

// Runs f(begin, count) over [0, n) in parallel blocks of fixed size: an update written over arrays of
// `count` elements (Eigen maps), which Eigen vectorises whole, square roots and divisions included.
// Blocks of 64k elements: a smaller parameter is updated on the calling thread, without a fork (an
// SGD step of the letter CNN's 12 tensors took longer on 2 threads than on 1 in blocks of 16k).
template <class F>
void for_each_block(std::size_t n, F&& f) {
  run_blocks(IndexSpace{n}, Cut{65536, 1, 1, 1}, [&](const Block& blk, std::size_t) { f(blk.n.begin, blk.n.size()); });
}

// `count` elements from p as an Eigen array.
template <class T>
auto array_of(T* p, std::size_t count) {
  using A = Eigen::Array<std::remove_const_t<T>, Eigen::Dynamic, 1>;
  return Eigen::Map<std::conditional_t<std::is_const_v<T>, const A, A>>(p, static_cast<Eigen::Index>(count));
}
}  // namespace detail

// Groups of parameters with options of type Options, and per-parameter state of type State.
template <class T, class Options, class State>
class ParameterGroups : public Optimizer<T> {
 public:
  struct Group {
    std::vector<Parameter<T>*> params;
    Options options;
  };

  // Adds a group; its options default to the optimizer's.
  void add_group(std::vector<Parameter<T>*> params, const Options& options) {
    for (Parameter<T>* p : params)
      for (const Group& g : groups_)
        for (const Parameter<T>* q : g.params)
          if (p == q) throw ConfigError("optimizer: parameter '" + p->name + "' is already in a group");
    options.validate();
    groups_.push_back({std::move(params), options});
    state_.emplace_back(groups_.back().params.size());
  }
  void add_group(std::vector<Parameter<T>*> params) { add_group(std::move(params), defaults_); }

  std::size_t groups() const { return groups_.size(); }
  Group& group(std::size_t i) { return groups_.at(i); }

  void zero_grad() override {
    for (Group& g : groups_)
      for (Parameter<T>* p : g.params) std::fill(p->grad.begin(), p->grad.end(), T(0));
  }

 protected:
  explicit ParameterGroups(const Options& defaults) : defaults_(defaults) { defaults_.validate(); }

  Options defaults_;
  std::vector<Group> groups_;
  std::vector<std::vector<State>> state_;  // [group][parameter]
};

}  // namespace parcnn
