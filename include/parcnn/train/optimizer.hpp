// parcnn/train/optimizer.hpp — what every optimizer offers, and parameter groups.
//
// As in PyTorch, an optimizer updates groups of parameters, each group with its own options (a lower
// learning rate for some layers, no weight decay for biases), and `group(i).options` may be changed
// between steps (learning-rate schedules). Updates are elementwise: they run in parallel, and every
// element's new value is the same whatever the thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
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
  // One update of every parameter from its gradient: begin_step, then update over all elements in
  // parallel ranges.
  virtual void step() = 0;
  virtual void zero_grad() = 0;

  // The step in parts, for a caller that makes the gradients range by range and updates each range
  // while it is in cache (Trainer): begin_step once per step (step counts, state on first use), then
  // update for every range of every parameter exactly once, from any thread. Ranges that start at
  // multiples of 16 elements (as element_ranges cuts them) give every element the bits step() gives it
  // (elsewhere, a vector loop's scalar tail may round differently). A parameter this optimizer does not
  // hold is left as it is.
  virtual void begin_step() = 0;
  virtual void update(const Parameter<T>& p, std::size_t begin, std::size_t count) = 0;

  // The state a checkpoint keeps (io/checkpoint.hpp), named after the parameter it belongs to: tensors
  // ("fc.weight.momentum_buffer", "fc.weight.exp_avg") and counters ("fc.weight.step"); none before the
  // first step. load_state restores it from the same names (ConfigError for a shape that does not fit
  // or a tensor the counters need that is absent); a parameter with no state starts afresh.
  virtual std::vector<NamedParameter<T>> state_tensors() = 0;
  virtual std::map<std::string, std::uint64_t> state_counters() const = 0;
  virtual void load_state(const std::map<std::string, Tensor<T>>& tensors,
                          const std::map<std::string, std::uint64_t>& counters) = 0;
};

namespace detail {
// tensors[name] into `to`, which must have `shape`; ConfigError naming the tensor otherwise.
template <class T>
void restore(const std::map<std::string, Tensor<T>>& tensors, const std::string& name, const Shape& shape, Tensor<T>& to) {
  const auto it = tensors.find(name);
  if (it == tensors.end()) throw ConfigError("optimizer state: '" + name + "' is missing");
  if (it->second.shape() != shape)
    throw ConfigError("optimizer state: '" + name + "' has shape " + it->second.shape().str() + ", the parameter " +
                      shape.str());
  to = it->second;
}
}  // namespace detail

namespace detail {
// `count` elements from p as an Eigen array.
template <class T>
auto array_of(T* p, std::size_t count) {
  using A = Eigen::Array<std::remove_const_t<T>, Eigen::Dynamic, 1>;
  return Eigen::Map<std::conditional_t<std::is_const_v<T>, const A, A>>(p, static_cast<Eigen::Index>(count));
}
}  // namespace detail

// Groups of parameters with options of type Options, and per-parameter state of type State. A derived
// optimizer gives begin_step and update_slot (the update of a range of one parameter's elements).
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
      for (const Slot& s : slots_)
        if (p == s.param) throw ConfigError("optimizer: parameter '" + p->name + "' is already in a group");
    options.validate();
    for (Parameter<T>* p : params) slots_.push_back(Slot{p, groups_.size(), State{}});
    groups_.push_back({std::move(params), options});
    std::vector<std::size_t> sizes;
    for (const Slot& s : slots_) sizes.push_back(s.param->value->size());
    ranges_ = element_ranges(sizes, update_block);
  }
  void add_group(std::vector<Parameter<T>*> params) { add_group(std::move(params), defaults_); }

  std::size_t groups() const { return groups_.size(); }
  Group& group(std::size_t i) { return groups_.at(i); }

  void zero_grad() override {
    for (Slot& s : slots_) std::fill(s.param->grad.begin(), s.param->grad.end(), T(0));
  }

  void step() override {
    this->begin_step();
    run_blocks(IndexSpace{ranges_.size()}, Cut{}, [&](const Block& blk, std::size_t) {
      for (std::size_t i = blk.n.begin; i < blk.n.end; ++i) {
        Slot& s = slots_[ranges_[i].tensor];
        update_slot(s, groups_[s.group].options, ranges_[i].begin, ranges_[i].count);
      }
    });
  }

  void update(const Parameter<T>& p, std::size_t begin, std::size_t count) override {
    for (Slot& s : slots_) {
      if (s.param != &p) continue;
      if (begin > p.value->size() || count > p.value->size() - begin)
        throw ShapeError("optimizer: elements [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                         ") of parameter '" + p.name + "', which has " + std::to_string(p.value->size()));
      update_slot(s, groups_[s.group].options, begin, count);
      return;
    }
  }

 protected:
  struct Slot {
    Parameter<T>* param;
    std::size_t group;  // index into groups_
    State state;
  };

  explicit ParameterGroups(const Options& defaults) : defaults_(defaults) { defaults_.validate(); }

  // Elements [begin, begin + count) of s's parameter, updated with options o, after begin_step.
  virtual void update_slot(Slot& s, const Options& o, std::size_t begin, std::size_t count) = 0;

  Options defaults_;
  std::vector<Group> groups_;
  std::vector<Slot> slots_;            // every parameter of every group, group after group
  std::vector<ElementRange> ranges_;   // of slots_, for step()
};

}  // namespace parcnn
