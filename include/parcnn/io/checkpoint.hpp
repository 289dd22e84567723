// parcnn/io/checkpoint.hpp — a training checkpoint: the model's state and the optimizer's, in one
// safetensors file, so that training resumes to the same bits as if it had not stopped.
//
//   io::save_checkpoint(path, model, adam, {{"epoch", std::to_string(epoch)}});
//   ...
//   auto metadata = io::load_checkpoint(path, model, adam);   // metadata["epoch"]
//
// Tensors: "model.<name>" (parameters and buffers), "optimizer.<name>" (Optimizer::state_tensors);
// metadata: the optimizer's counters as "optimizer.<name>", and the caller's own keys (a learning-rate
// schedule's epoch, say: LrScheduler::set_epoch). Values are stored in T, so nothing is rounded.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/io/safetensors.hpp"
#include "parcnn/layers/layer.hpp"

namespace parcnn::io {

// `optimizer`: an Optimizer<T> (train/optimizer.hpp; SGD, Adam), taken by its state functions.
template <class T, class Optimizer>
void save_checkpoint(const std::string& path, Layer<T>& model, Optimizer& optimizer,
                     const std::map<std::string, std::string>& metadata = {}) {
  std::vector<NamedParameter<T>> tensors;
  for (const NamedParameter<T>& p : detail::state_of(model)) tensors.push_back({"model." + p.name, p.tensor});
  for (const NamedParameter<T>& p : optimizer.state_tensors()) tensors.push_back({"optimizer." + p.name, p.tensor});
  std::map<std::string, std::string> meta = metadata;
  for (const auto& [name, value] : optimizer.state_counters()) {
    if (meta.count("optimizer." + name)) throw IoError(path + ": the metadata key 'optimizer." + name + "' is the optimizer's");
    meta["optimizer." + name] = std::to_string(value);
  }
  meta["format"] = "parcnn checkpoint";
  save_safetensors(path, tensors, meta);
}

// Restores the model's and the optimizer's state from a save_checkpoint file and returns its metadata.
// IoError for a file that is not a checkpoint of this model (every problem listed, as load_safetensors)
// or whose optimizer state does not fit; the model is unchanged unless its state loads.
template <class T, class Optimizer>
std::map<std::string, std::string> load_checkpoint(const std::string& path, Layer<T>& model, Optimizer& optimizer) {
  std::map<std::string, std::string> metadata;
  std::map<std::string, Tensor<T>> tensors = read_safetensors<T>(path, &metadata);
  if (metadata["format"] != "parcnn checkpoint") throw IoError(path + ": not a parcnn checkpoint (no format metadata)");
  // Every tensor of the model's state there, and nothing but it and the optimizer's.
  std::vector<std::string> problems;
  std::map<std::string, bool> model_names;
  for (const NamedParameter<T>& p : detail::state_of(model)) {
    model_names[p.name] = true;
    if (!tensors.count("model." + p.name)) problems.push_back("'model." + p.name + "' is missing");
  }
  for (const auto& entry : tensors) {
    const std::string& n = entry.first;
    if (n.rfind("optimizer.", 0) != 0 && !(n.rfind("model.", 0) == 0 && model_names.count(n.substr(6))))
      problems.push_back("'" + n + "' is neither the model's nor the optimizer's");
  }
  if (!problems.empty()) {
    std::string msg = path + ": does not match the model:";
    for (const auto& p : problems) msg += "\n  " + p;
    throw IoError(msg);
  }
  std::map<std::string, Tensor<T>> state;
  std::map<std::string, std::uint64_t> counters;
  for (auto& [name, t] : tensors)
    if (name.rfind("optimizer.", 0) == 0) state.emplace(name.substr(10), std::move(t));
  for (const auto& [key, value] : metadata) {
    if (key.rfind("optimizer.", 0) != 0) continue;
    std::size_t used = 0;
    std::uint64_t v = 0;
    try {
      v = std::stoull(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != value.size()) throw IoError(path + ": the counter '" + key + "' is not a number: " + value);
    counters[key.substr(10)] = v;
  }
  LoadOptions model_state;  // matched above; the optimizer's tensors are skipped
  model_state.strict = false;
  model_state.rename = [](const std::string& n) { return n.rfind("model.", 0) == 0 ? n.substr(6) : std::string(); };
  load_safetensors(path, model, model_state);
  try {
    optimizer.load_state(state, counters);
  } catch (const ConfigError& e) {
    throw IoError(path + ": " + e.what());
  }
  return metadata;
}

}  // namespace parcnn::io
