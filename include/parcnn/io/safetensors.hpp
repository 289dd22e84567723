// parcnn/io/safetensors.hpp — tensors in the safetensors format: a model's state by name, and any
// file's tensors as such.
//
// Format (the one PyTorch, JAX and others read): an unsigned 64-bit little-endian header length N, N
// bytes of JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
// "__metadata__": {..}}, then the raw little-endian data, offsets counted from its start.
//
// A model's state is its parameters and buffers (BatchNorm2d's running statistics) under their names,
// which follow PyTorch's state dict for the same modules (conv1.weight, bn1.running_mean, ...); so
// weights move between the two. Loading checks every name, dtype and shape and reports what does not
// match (load_state_dict's missing, unexpected and mismatched keys); names may be mapped (a PyTorch
// nn.Sequential's numbering: sequential_numbering). Every offset is checked against the file before
// anything is read; floating-point (F64, F32, F16, BF16), integer and boolean data convert to T.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "parcnn/core/tensor.hpp"
#include "parcnn/io/idx.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/layers/sequential.hpp"

namespace parcnn::io {

namespace detail {
inline bool little_endian() {
  const std::uint16_t one = 1;
  unsigned char b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}
template <class T>
constexpr const char* safetensors_dtype() {
  return std::is_same_v<T, float> ? "F32" : "F64";
}

struct SafetensorsEntry {
  std::string dtype;
  std::vector<std::size_t> shape;
  std::uint64_t begin = 0, end = 0;
};

// Bytes per value of a dtype parcnn reads; 0 for one it does not.
inline std::uint64_t safetensors_width(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL") return 1;
  return 0;
}

// IEEE half to float, subnormals, infinities and NaN included.
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  float magnitude;
  if (exponent == 0) magnitude = std::ldexp(float(mantissa), -24);
  else if (exponent == 31) magnitude = mantissa ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  else magnitude = std::ldexp(float(mantissa | 0x400), int(exponent) - 25);
  return sign ? -magnitude : magnitude;
}

// bfloat16 is the top half of a float.
inline float bfloat16_to_float(std::uint16_t b) {
  const std::uint32_t bits = std::uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <class T, class Stored>
T stored(const char* p) {
  Stored v;
  std::memcpy(&v, p, sizeof v);
  return T(v);
}

// Value i of raw data of `dtype` (one safetensors_width knows) as T.
template <class T>
T convert(const std::string& dtype, const char* raw, std::size_t i) {
  if (dtype == "F32") return stored<T, float>(raw + 4 * i);
  if (dtype == "F64") return stored<T, double>(raw + 8 * i);
  if (dtype == "F16") return T(half_to_float(stored<std::uint16_t, std::uint16_t>(raw + 2 * i)));
  if (dtype == "BF16") return T(bfloat16_to_float(stored<std::uint16_t, std::uint16_t>(raw + 2 * i)));
  if (dtype == "I64") return stored<T, std::int64_t>(raw + 8 * i);
  if (dtype == "I32") return stored<T, std::int32_t>(raw + 4 * i);
  if (dtype == "I16") return stored<T, std::int16_t>(raw + 2 * i);
  if (dtype == "I8") return stored<T, std::int8_t>(raw + i);
  if (dtype == "U64") return stored<T, std::uint64_t>(raw + 8 * i);
  if (dtype == "U32") return stored<T, std::uint32_t>(raw + 4 * i);
  if (dtype == "U16") return stored<T, std::uint16_t>(raw + 2 * i);
  if (dtype == "BOOL") return T(raw[i] != 0 ? 1 : 0);
  return T(static_cast<unsigned char>(raw[i]));  // U8
}

inline std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// An open safetensors file with its header checked: every entry's offsets inside the data, the
// entries' bytes tiling it exactly, each name once.
class SafetensorsReader {
 public:
  explicit SafetensorsReader(const std::string& path) : path_(path) {
    if (!little_endian()) throw IoError(path + ": safetensors reading needs a little-endian machine");
    in_.open(path, std::ios::binary | std::ios::ate);
    if (!in_) throw IoError(path + ": cannot open (" + std::strerror(errno) + ")");
    const std::uint64_t size = std::uint64_t(in_.tellg());
    in_.seekg(0);
    std::uint64_t n = 0;
    if (size < 8 || !in_.read(reinterpret_cast<char*>(&n), 8)) throw IoError(path + ": truncated: no safetensors header length");
    if (n > size - 8) throw IoError(path + ": truncated: the header length " + std::to_string(n) + " exceeds the file");
    if (n > (std::uint64_t(100) << 20)) throw IoError(path + ": a header of " + std::to_string(n) + " bytes is not plausible");
    std::string text(n, '\0');
    if (!in_.read(text.data(), std::streamsize(n))) throw IoError(path + ": cannot read the header");
    data_start_ = 8 + n;
    parse(text, size - 8 - n);
  }

  const std::map<std::string, SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Entry `name`'s values as T, in a tensor of its shape (rank 0 as [1]). IoError for a dtype parcnn
  // does not read and for a rank above 4.
  template <class T>
  Tensor<T> read(const std::string& name) {
    const SafetensorsEntry& e = entries_.at(name);
    const std::string where = path_ + ": tensor '" + name + "'";
    if (safetensors_width(e.dtype) == 0) throw IoError(where + " has dtype " + e.dtype + ", which parcnn does not read");
    if (e.shape.size() > Shape::max_rank)
      throw IoError(where + " has rank " + std::to_string(e.shape.size()) + "; parcnn tensors have rank 1 to 4");
    std::vector<char> raw(e.end - e.begin);
    in_.seekg(std::streamoff(data_start_ + e.begin));
    if (!in_.read(raw.data(), std::streamsize(raw.size()))) throw IoError(path_ + ": cannot read tensor '" + name + "'");
    Tensor<T> t(shape_of(e));
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = convert<T>(e.dtype, raw.data(), i);
    return t;
  }

  // The parcnn shape of an entry (of rank 4 at most): its own, or [1] for a scalar (rank 0).
  static Shape shape_of(const SafetensorsEntry& e) { return e.shape.empty() ? Shape{1} : Shape(e.shape); }

 private:
  void parse(const std::string& text, std::uint64_t data_size) {
    const std::string& path = path_;
    nlohmann::json header;
    std::vector<std::string> names;
    try {
      header = nlohmann::json::parse(text, [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (depth == 1 && event == nlohmann::json::parse_event_t::key) names.push_back(parsed.get<std::string>());
        return true;
      });
    } catch (const nlohmann::json::exception& e) {
      throw IoError(path + ": the header is not valid JSON (" + e.what() + ")");
    }
    if (!header.is_object()) throw IoError(path + ": the header is not a JSON object");
    std::sort(names.begin(), names.end());
    const auto twice = std::adjacent_find(names.begin(), names.end());
    if (twice != names.end()) throw IoError(path + ": the header names '" + *twice + "' twice");
    for (auto item = header.cbegin(); item != header.cend(); ++item) {
      const std::string& name = item.key();
      const nlohmann::json& v = item.value();
      if (name == "__metadata__") {
        if (v.is_object())
          for (auto m = v.cbegin(); m != v.cend(); ++m)
            if (m.value().is_string()) metadata_[m.key()] = m.value().get<std::string>();
        continue;
      }
      const std::string where = path + ": tensor '" + name + "'";
      if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets") ||
          !v["dtype"].is_string() || !v["shape"].is_array() || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
        throw IoError(where + ": needs a dtype string, a shape array and two data_offsets");
      SafetensorsEntry e;
      e.dtype = v["dtype"].get<std::string>();
      std::size_t count = 1;
      for (const nlohmann::json& d : v["shape"]) {
        if (!d.is_number_unsigned()) throw IoError(where + ": shape entries must be non-negative integers");
        e.shape.push_back(d.get<std::size_t>());
        if (!multiply_within(count, e.shape.back(), data_size, count))
          throw IoError(where + ": its shape holds more values than the file's " + std::to_string(data_size) +
                        " data bytes");
      }
      for (const nlohmann::json& o : v["data_offsets"])
        if (!o.is_number_unsigned()) throw IoError(where + ": data_offsets must be non-negative integers");
      e.begin = v["data_offsets"][0].get<std::uint64_t>();
      e.end = v["data_offsets"][1].get<std::uint64_t>();
      if (e.begin > e.end || e.end > data_size)
        throw IoError(where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                      "] lie outside the " + std::to_string(data_size) + " data bytes");
      const std::uint64_t width = safetensors_width(e.dtype);
      if (width && e.end - e.begin != count * width)
        throw IoError(where + ": " + std::to_string(e.end - e.begin) + " bytes for " + std::to_string(count) + " " +
                      e.dtype + " values");
      entries_[name] = e;
    }
    // As the format requires, the tensors' bytes tile the data exactly: no overlap, no gap, nothing after.
    std::vector<std::pair<std::uint64_t, std::string>> starts;
    for (const auto& [name, e] : entries_) starts.emplace_back(e.begin, name);
    std::sort(starts.begin(), starts.end(), [&](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : entries_.at(a.second).end < entries_.at(b.second).end;
    });
    std::uint64_t covered = 0;
    for (const auto& [begin, name] : starts) {
      if (begin < covered) throw IoError(path + ": tensor '" + name + "' overlaps the bytes of another tensor");
      if (begin > covered)
        throw IoError(path + ": data bytes [" + std::to_string(covered) + ", " + std::to_string(begin) +
                      ") belong to no tensor");
      covered = entries_.at(name).end;
    }
    if (covered != data_size)
      throw IoError(path + ": " + std::to_string(data_size - covered) + " data bytes after the last tensor belong to no tensor");
  }

  std::string path_;
  std::ifstream in_;
  std::uint64_t data_start_ = 0;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// A model's state: its parameters, then its buffers.
template <class T>
std::vector<NamedParameter<T>> state_of(Layer<T>& model) {
  std::vector<NamedParameter<T>> all = model.parameters();
  for (const NamedParameter<T>& b : model.buffers()) all.push_back(b);
  return all;
}
}  // namespace detail

// Writes `tensors` under their names (each once) and optional string metadata.
template <class T>
void save_safetensors(const std::string& path, const std::vector<NamedParameter<T>>& tensors,
                      const std::map<std::string, std::string>& metadata = {}) {
  if (!detail::little_endian()) throw IoError(path + ": safetensors writing needs a little-endian machine");
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::size_t offset = 0;
  const std::vector<NamedParameter<T>>& params = tensors;
  for (const NamedParameter<T>& p : params) {
    if (p.name == "__metadata__" || header.contains(p.name)) throw IoError(path + ": the tensor name '" + p.name + "' is taken");
    std::vector<std::size_t> shape;
    for (std::size_t d = 0; d < p.tensor->rank(); ++d) shape.push_back(p.tensor->dim(d));
    const std::size_t bytes = p.tensor->size() * sizeof(T);
    header[p.name] = {{"dtype", detail::safetensors_dtype<T>()}, {"shape", shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data starts 8-byte aligned
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw IoError(path + ": cannot open for writing (" + std::strerror(errno) + ")");
  const std::uint64_t n = text.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(text.data(), std::streamsize(text.size()));
  for (const NamedParameter<T>& p : params)
    out.write(reinterpret_cast<const char*>(p.tensor->data()), std::streamsize(p.tensor->size() * sizeof(T)));
  if (!out.flush()) throw IoError(path + ": write failed (" + std::strerror(errno) + ")");
}

// Writes `model`'s state (its parameters, then its buffers, under their names) and optional string
// metadata.
template <class T>
void save_safetensors(const std::string& path, Layer<T>& model, const std::map<std::string, std::string>& metadata = {}) {
  save_safetensors(path, detail::state_of(model), metadata);
}

// Every tensor of a safetensors file, by name, converted to T (a scalar as shape [1]); the file's
// string metadata into `metadata` when given. IoError for an unreadable or corrupt file, a dtype parcnn
// does not read (F8, complex) or a rank above 4.
template <class T>
std::map<std::string, Tensor<T>> read_safetensors(const std::string& path,
                                                  std::map<std::string, std::string>* metadata = nullptr) {
  detail::SafetensorsReader file(path);
  std::map<std::string, Tensor<T>> out;
  for (const auto& entry : file.entries()) out.emplace(entry.first, file.template read<T>(entry.first));
  if (metadata) *metadata = file.metadata();
  return out;
}

// A safetensors file's string metadata, from its header alone (checked as read_safetensors checks it).
inline std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
  return detail::SafetensorsReader(path).metadata();
}

// How load_safetensors matches a file to a model.
struct LoadOptions {
  // Every model tensor must be in the file and every file tensor in the model (as PyTorch's strict
  // load_state_dict); otherwise those are reported and skipped. A shape or dtype that does not fit is an
  // error either way.
  bool strict = true;
  // The model's name for a file tensor's name, or "" to skip it; the identity when empty.
  std::function<std::string(const std::string&)> rename;
};

// What a load matched: the model's tensors it set, those the file lacks, the file's tensors the model
// lacks (by their file names).
struct LoadReport {
  std::vector<std::string> loaded, missing, unexpected;
};

// The names of a PyTorch nn.Sequential of the same layers ("0.weight", "3.bias": each layer by its
// position) mapped to `model`'s ("conv1.weight", "conv2.bias"): LoadOptions::rename for a checkpoint of
// torch.nn.Sequential(...).
template <class T>
std::function<std::string(const std::string&)> sequential_numbering(const Sequential<T>& model) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < model.size(); ++i) names.push_back(model.layer_name(i));
  return [names](const std::string& file_name) -> std::string {
    const std::size_t dot = file_name.find('.');
    const std::string index = file_name.substr(0, dot);
    if (dot == std::string::npos || index.empty() || index.size() > 9 ||
        index.find_first_not_of("0123456789") != std::string::npos)
      return "";
    const std::size_t i = std::stoul(index);
    return i < names.size() ? names[i] + file_name.substr(dot) : "";
  };
}

// Loads `model`'s state (parameters and buffers) from `path`, matched by name through `options`.
// Throws IoError for an unreadable or corrupt file, for any shape or dtype that does not fit, and in a
// strict load for any missing or unexpected tensor (all of them listed); the model is unchanged unless
// the load succeeds.
template <class T>
LoadReport load_safetensors(const std::string& path, Layer<T>& model, const LoadOptions& options) {
  detail::SafetensorsReader file(path);
  const std::vector<NamedParameter<T>> state = detail::state_of(model);
  std::map<std::string, std::string> file_name_of;  // model name → file name
  LoadReport report;
  std::vector<std::string> problems;
  for (const auto& [file_name, e] : file.entries()) {
    const std::string name = options.rename ? options.rename(file_name) : file_name;
    bool known = false;
    for (const NamedParameter<T>& p : state) known |= !name.empty() && p.name == name;
    if (!known) {
      report.unexpected.push_back(file_name);
      if (options.strict) problems.push_back("'" + file_name + "' is not a parameter of the model");
      continue;
    }
    if (file_name_of.count(name))
      problems.push_back("'" + file_name_of[name] + "' and '" + file_name + "' both name the model's '" + name + "'");
    file_name_of[name] = file_name;
  }
  for (const NamedParameter<T>& p : state) {
    const auto it = file_name_of.find(p.name);
    if (it == file_name_of.end()) {
      report.missing.push_back(p.name);
      if (options.strict) problems.push_back("'" + p.name + "' is missing");
      continue;
    }
    const detail::SafetensorsEntry& e = file.entries().at(it->second);
    const std::string label = it->second == p.name ? "'" + p.name + "'" : "'" + it->second + "' (the model's '" + p.name + "')";
    if (detail::safetensors_width(e.dtype) == 0) problems.push_back(label + " has dtype " + e.dtype + ", which parcnn does not read");
    const bool scalar = e.shape.empty() && p.tensor->shape() == Shape{1};
    std::vector<std::size_t> expected;
    for (std::size_t d = 0; d < p.tensor->rank(); ++d) expected.push_back(p.tensor->dim(d));
    if (e.shape != expected && !scalar)
      problems.push_back(label + " has shape " + detail::shape_text(e.shape) + ", the model expects " +
                         p.tensor->shape().str());
  }
  if (!problems.empty()) {
    std::string msg = path + ": does not match the model:";
    for (const auto& p : problems) msg += "\n  " + p;
    throw IoError(msg);
  }
  std::vector<Tensor<T>> values;  // read everything first: the model changes only if all reads succeed
  for (const NamedParameter<T>& p : state)
    if (file_name_of.count(p.name)) values.push_back(file.template read<T>(file_name_of.at(p.name)));
  std::size_t v = 0;
  for (const NamedParameter<T>& p : state)
    if (file_name_of.count(p.name)) {
      std::copy(values[v].begin(), values[v].end(), p.tensor->data());
      ++v;
      report.loaded.push_back(p.name);
    }
  return report;
}

// The strict load: every tensor of the model's state in the file under its own name, nothing else.
template <class T>
void load_safetensors(const std::string& path, Layer<T>& model) {
  load_safetensors(path, model, LoadOptions{});
}

}  // namespace parcnn::io
