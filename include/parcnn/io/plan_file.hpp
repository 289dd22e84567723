// parcnn/io/plan_file.hpp — plans as JSON files: a plan made (or tuned) once, saved, and loaded where
// the model is deployed, so that it starts with the plan instead of making or measuring one.
//
//   io::save_plan(model.plan(shape, tuned, executor), "letter_cnn.b64.t2.plan.json");
//   const Plan plan = io::load_plan("letter_cnn.b64.t2.plan.json", model);  // checked against the model
//   model.forward(x, plan, ws, executor);
//
// The file holds what the plan decided (the pass, the input, the executor profile, the stages with
// their post-ops, cuts, kernel paths and reasons, the depth-first blocks, the team, the backward
// stages) and the model's layer names; each stage's workload is computed again from the model on
// loading. A file that is not JSON, lacks a field or holds one of the wrong type gets an IoError naming
// the file and the field; a plan that does not fit the model (planner::check_plan) an IoError naming the
// file and what does not fit.
#pragma once

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "parcnn/core/error.hpp"
#include "parcnn/core/shape.hpp"
#include "parcnn/plan/make_plan.hpp"
#include "parcnn/plan/plan.hpp"

namespace parcnn::io {

namespace detail {

inline nlohmann::json to_json(const Shape& s) {
  nlohmann::json a = nlohmann::json::array();
  for (std::size_t i = 0; i < s.rank(); ++i) a.push_back(s[i]);
  return a;
}

inline nlohmann::json to_json(const Cut& c) { return {c.n, c.c, c.h, c.w}; }

// Post-ops as the array of their keys, in order: ["max_pool_2x2", "gelu_tanh"].
inline nlohmann::json to_json(const kernels::PostOps& e) {
  nlohmann::json a = nlohmann::json::array();
  for (const kernels::PostOp& op : e) a.push_back(op.key());
  return a;
}

// Reads the fields of one JSON object, naming `where` (the file and the path to the object) in errors.
class Fields {
 public:
  Fields(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) throw IoError(where_ + " is not a JSON object");
  }

  const nlohmann::json& field(const char* key) const {
    const auto it = j_.find(key);
    if (it == j_.end()) throw IoError(where_ + " has no '" + key + "'");
    return *it;
  }
  std::string at(const char* key) const { return where_ + "." + key; }

  std::size_t count(const char* key, std::size_t most = std::size_t(1) << 60) const {
    const nlohmann::json& v = field(key);
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() > most)
      throw IoError(at(key) + " must be a whole number from 0 to " + std::to_string(most));
    return std::size_t(v.get<std::uint64_t>());
  }
  double number(const char* key) const {
    const nlohmann::json& v = field(key);
    if (!v.is_number()) throw IoError(at(key) + " must be a number");
    return v.get<double>();
  }
  bool flag(const char* key) const {
    const nlohmann::json& v = field(key);
    if (!v.is_boolean()) throw IoError(at(key) + " must be true or false");
    return v.get<bool>();
  }
  std::string text(const char* key) const {
    const nlohmann::json& v = field(key);
    if (!v.is_string()) throw IoError(at(key) + " must be a string");
    return v.get<std::string>();
  }
  const nlohmann::json& array(const char* key) const {
    const nlohmann::json& v = field(key);
    if (!v.is_array()) throw IoError(at(key) + " must be an array");
    return v;
  }
  std::vector<std::size_t> counts(const char* key, std::size_t least, std::size_t most) const {
    const nlohmann::json& v = array(key);
    if (v.size() < least || v.size() > most)
      throw IoError(at(key) + " must hold " + std::to_string(least) + " to " + std::to_string(most) + " numbers");
    std::vector<std::size_t> out;
    for (const nlohmann::json& d : v) {
      if (!d.is_number_unsigned() || d.get<std::uint64_t>() > (std::uint64_t(1) << 60))
        throw IoError(at(key) + " must hold whole numbers from 0 to 2^60");
      out.push_back(std::size_t(d.get<std::uint64_t>()));
    }
    return out;
  }
  Shape shape(const char* key) const {
    const std::vector<std::size_t> d = counts(key, 1, Shape::max_rank);
    try {
      switch (d.size()) {
        case 1: return Shape{d[0]};
        case 2: return Shape{d[0], d[1]};
        case 3: return Shape{d[0], d[1], d[2]};
        default: return Shape{d[0], d[1], d[2], d[3]};
      }
    } catch (const ShapeError& e) {
      throw IoError(at(key) + ": " + e.what());
    }
  }
  Cut cut(const char* key) const {
    const std::vector<std::size_t> d = counts(key, 4, 4);
    return Cut{d[0], d[1], d[2], d[3]};
  }
  kernels::PostOps post_ops(const char* key) const {
    const nlohmann::json& v = array(key);
    if (v.size() > kernels::PostOps::capacity)
      throw IoError(at(key) + " must hold at most " + std::to_string(kernels::PostOps::capacity) + " post-ops");
    kernels::PostOps out;
    for (const nlohmann::json& k : v) {
      const auto op = k.is_string() ? kernels::PostOp::from_key(k.get<std::string>()) : std::nullopt;
      if (!op)
        throw IoError(at(key) + " must hold \"max_pool_2x2\", \"gelu\", \"gelu_tanh\", \"relu\", \"leaky_relu(slope)\", "
                                "\"sigmoid\" or \"tanh\"");
      out = out.then(*op);
    }
    return out;
  }

 private:
  const nlohmann::json& j_;
  std::string where_;
};

}  // namespace detail

// The plan as JSON text.
inline std::string plan_to_json(const Plan& plan) {
  using nlohmann::json;
  using detail::to_json;
  json layers = json::array();
  for (std::size_t i = 0; i < plan.layer_names.size(); ++i)
    layers.push_back({{"name", plan.layer_names[i]}, {"output", to_json(plan.layer_outputs.at(i))}});
  json stages = json::array();
  for (const PlanStage& st : plan.stages)
    stages.push_back({{"first", st.first},
                      {"next", st.next},
                      {"post_ops", to_json(st.post_ops)},
                      {"in", to_json(st.in)},
                      {"out", to_json(st.out)},
                      {"strategy", st.strategy},
                      {"cut", to_json(st.cut)},
                      {"blocks", st.blocks},
                      {"algorithm",
                       {{"name", st.algorithm.name},
                        {"scratch_per_worker", st.algorithm.scratch_per_worker},
                        {"shared", st.algorithm.shared}}},
                      {"reason", st.reason}});
  json backward = json::array();
  for (const BackwardStage& st : plan.backward)
    backward.push_back({{"first", st.first}, {"next", st.next}, {"post_ops", to_json(st.post_ops)}});
  const json j = {
      {"format", "parcnn-plan"},
      {"version", 2},
      {"pass", plan.pass == Pass::inference ? "inference" : "for_backward"},
      {"input", to_json(plan.input)},
      {"output", to_json(plan.output)},
      {"profile",
       {{"workers", plan.profile.workers}, {"team", plan.profile.team}, {"hand_off_ns", plan.profile.hand_off_ns}}},
      {"strategy", plan.strategy},
      {"layers", layers},
      {"depth_first_images", plan.depth_first() ? plan.batch_blocks.n : 0},
      {"team", plan.team},
      {"stages", stages},
      {"backward", backward},
      {"note", plan.note}};
  return j.dump(1);
}

// The plan in `text` (plan_to_json's form) for `model`, checked against it (planner::check_plan); each
// stage's workload and each layer's own name come from the model. IoError naming `source` otherwise.
template <class Model>
Plan plan_from_json(const std::string& text, const Model& model, const std::string& source = "plan") {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw IoError(source + ": not valid JSON (" + e.what() + ")");
  }
  const detail::Fields f(j, source);
  if (f.text("format") != "parcnn-plan") throw IoError(source + ": not a parcnn plan (format '" + f.text("format") + "')");
  if (f.count("version") != 2)
    throw IoError(source + ": plan format version " + std::to_string(f.count("version")) +
                  " is not 2 (make the plan again with this version)");
  Plan plan;
  const std::string pass = f.text("pass");
  if (pass != "inference" && pass != "for_backward") throw IoError(f.at("pass") + " must be \"inference\" or \"for_backward\"");
  plan.pass = pass == "inference" ? Pass::inference : Pass::for_backward;
  plan.input = f.shape("input");
  plan.output = f.shape("output");
  {
    const detail::Fields p(f.field("profile"), f.at("profile"));
    plan.profile = ExecutorProfile(p.count("workers", 4096), p.flag("team"), p.number("hand_off_ns"));
  }
  plan.strategy = f.text("strategy");
  const nlohmann::json& layers = f.array("layers");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const detail::Fields l(layers[i], f.at("layers") + "[" + std::to_string(i) + "]");
    plan.layer_names.push_back(l.text("name"));
    plan.layer_outputs.push_back(l.shape("output"));
    plan.layer_kinds.push_back(i < model.size() ? model[i].name() : std::string("?"));
  }
  const std::size_t images = f.count("depth_first_images");
  if (images > 0) plan.batch_blocks.n = images;
  plan.team = f.count("team", 4096);
  const nlohmann::json& stages = f.array("stages");
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const detail::Fields s(stages[i], f.at("stages") + "[" + std::to_string(i) + "]");
    PlanStage st;
    st.first = s.count("first");
    st.next = s.count("next");
    st.post_ops = s.post_ops("post_ops");
    st.in = s.shape("in");
    st.out = s.shape("out");
    st.strategy = s.text("strategy");
    st.cut = s.cut("cut");
    st.blocks = s.count("blocks");
    const detail::Fields a(s.field("algorithm"), s.at("algorithm"));
    st.algorithm = Algorithm{a.text("name"), a.count("scratch_per_worker"), a.count("shared")};
    st.reason = s.text("reason");
    plan.stages.push_back(std::move(st));
  }
  const nlohmann::json& backward = f.array("backward");
  for (std::size_t i = 0; i < backward.size(); ++i) {
    const detail::Fields b(backward[i], f.at("backward") + "[" + std::to_string(i) + "]");
    plan.backward.push_back(BackwardStage{b.count("first"), b.count("next"), b.post_ops("post_ops")});
  }
  plan.note = f.text("note");
  try {
    planner::check_plan(model, plan);
  } catch (const ConfigError& e) {
    throw IoError(source + ": does not fit the model: " + e.what());
  } catch (const ShapeError& e) {
    throw IoError(source + ": does not fit the model: " + e.what());
  }
  for (PlanStage& st : plan.stages) st.work = model[st.first].fused_workload(st.in, st.post_ops);
  return plan;
}

// Writes `plan` to `path` as JSON. IoError when the file cannot be written.
inline void save_plan(const Plan& plan, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw IoError(path + ": cannot open for writing (" + std::strerror(errno) + ")");
  out << plan_to_json(plan) << '\n';
  if (!out.flush()) throw IoError(path + ": write failed (" + std::strerror(errno) + ")");
}

// The plan saved in `path`, checked against `model` (see plan_from_json).
template <class Model>
Plan load_plan(const std::string& path, const Model& model) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw IoError(path + ": cannot open (" + std::strerror(errno) + ")");
  const std::streamoff size = in.tellg();
  if (size > (std::streamoff(64) << 20)) throw IoError(path + ": a plan of " + std::to_string(size) + " bytes is not plausible");
  in.seekg(0);
  std::string text(static_cast<std::size_t>(size), '\0');
  if (!in.read(text.data(), size)) throw IoError(path + ": cannot read");
  return plan_from_json(text, model, path);
}

}  // namespace parcnn::io
