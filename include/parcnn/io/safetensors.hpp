// parcnn/io/safetensors.hpp — a model's parameters in the safetensors format, by name.
//
// Format (the one PyTorch, JAX and others read): an unsigned 64-bit little-endian header length N, N
// bytes of JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
// "__metadata__": {..}}, then the raw little-endian data, offsets counted from its start.
//
// Names are the model's parameter names, which for models::letter_cnn follow the PyTorch state dict of
// the same network (conv1.weight, conv1.bias, ..., fc3.bias), with the same layouts; so weights move
// between the two. Loading checks every name, dtype and shape against the model and reports all that
// do not match in one error; every offset is checked against the file before anything is read.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "parcnn/core/tensor.hpp"
#include "parcnn/io/idx.hpp"
#include "parcnn/layers/layer.hpp"

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
}  // namespace detail

// Writes every parameter of `model` (names from model.parameters()) and optional string metadata.
template <class T>
void save_safetensors(const std::string& path, Layer<T>& model, const std::map<std::string, std::string>& metadata = {}) {
  if (!detail::little_endian()) throw IoError(path + ": safetensors writing needs a little-endian machine");
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::size_t offset = 0;
  const std::vector<NamedParameter<T>> params = model.parameters();
  for (const NamedParameter<T>& p : params) {
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

// Loads every parameter of `model` from `path`. F32 and F64 data are both accepted (converted to T).
// Throws IoError for an unreadable or corrupt file, and for any name, dtype or shape that does not
// match the model (all of them listed); the model is unchanged unless everything matches.
template <class T>
void load_safetensors(const std::string& path, Layer<T>& model) {
  if (!detail::little_endian()) throw IoError(path + ": safetensors reading needs a little-endian machine");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw IoError(path + ": cannot open (" + std::strerror(errno) + ")");
  const std::uint64_t size = std::uint64_t(in.tellg());
  in.seekg(0);
  std::uint64_t n = 0;
  if (size < 8 || !in.read(reinterpret_cast<char*>(&n), 8)) throw IoError(path + ": truncated: no safetensors header length");
  if (n > size - 8) throw IoError(path + ": truncated: the header length " + std::to_string(n) + " exceeds the file");
  if (n > (std::uint64_t(100) << 20)) throw IoError(path + ": a header of " + std::to_string(n) + " bytes is not plausible");
  std::string text(n, '\0');
  if (!in.read(text.data(), std::streamsize(n))) throw IoError(path + ": cannot read the header");
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
  const std::uint64_t data_size = size - 8 - n;

  struct Entry {
    std::string dtype;
    std::vector<std::size_t> shape;
    std::uint64_t begin, end;
  };
  std::map<std::string, Entry> entries;
  for (auto item = header.cbegin(); item != header.cend(); ++item) {
    const std::string& name = item.key();
    const nlohmann::json& v = item.value();
    if (name == "__metadata__") continue;
    const std::string where = path + ": tensor '" + name + "'";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets") ||
        !v["dtype"].is_string() || !v["shape"].is_array() || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      throw IoError(where + ": needs a dtype string, a shape array and two data_offsets");
    Entry e;
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
    const std::uint64_t width = e.dtype == "F32" ? 4 : e.dtype == "F64" ? 8 : 0;
    if (width && e.end - e.begin != count * width)
      throw IoError(where + ": " + std::to_string(e.end - e.begin) + " bytes for " + std::to_string(count) + " " +
                    e.dtype + " values");
    entries[name] = e;
  }
  // As the format requires, the tensors' bytes tile the data exactly: no overlap, no gap, nothing after.
  std::vector<std::pair<std::uint64_t, std::string>> starts;
  for (const auto& [name, e] : entries) starts.emplace_back(e.begin, name);
  std::sort(starts.begin(), starts.end(), [&](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : entries.at(a.second).end < entries.at(b.second).end;
  });
  std::uint64_t covered = 0;
  for (const auto& [begin, name] : starts) {
    if (begin < covered) throw IoError(path + ": tensor '" + name + "' overlaps the bytes of another tensor");
    if (begin > covered)
      throw IoError(path + ": data bytes [" + std::to_string(covered) + ", " + std::to_string(begin) +
                    ") belong to no tensor");
    covered = entries.at(name).end;
  }
  if (covered != data_size)
    throw IoError(path + ": " + std::to_string(data_size - covered) + " data bytes after the last tensor belong to no tensor");

  std::vector<NamedParameter<T>> params = model.parameters();
  std::vector<std::string> problems;
  for (const NamedParameter<T>& p : params) {
    const auto it = entries.find(p.name);
    if (it == entries.end()) {
      problems.push_back("'" + p.name + "' is missing");
      continue;
    }
    const Entry& e = it->second;
    std::vector<std::size_t> expected;
    for (std::size_t d = 0; d < p.tensor->rank(); ++d) expected.push_back(p.tensor->dim(d));
    if (e.dtype != "F32" && e.dtype != "F64") problems.push_back("'" + p.name + "' has dtype " + e.dtype + ", not F32 or F64");
    if (e.shape != expected) {
      std::string got = "[";
      for (std::size_t i = 0; i < e.shape.size(); ++i) got += (i ? ", " : "") + std::to_string(e.shape[i]);
      problems.push_back("'" + p.name + "' has shape " + got + "], the model expects " + p.tensor->shape().str());
    }
  }
  for (const auto& [name, e] : entries) {
    bool known = false;
    for (const NamedParameter<T>& p : params) known |= p.name == name;
    if (!known) problems.push_back("'" + name + "' is not a parameter of the model");
  }
  if (!problems.empty()) {
    std::string msg = path + ": does not match the model:";
    for (const auto& p : problems) msg += "\n  " + p;
    throw IoError(msg);
  }

  std::vector<std::vector<T>> values;  // read everything first: the model changes only if all reads succeed
  for (const NamedParameter<T>& p : params) {
    const Entry& e = entries.at(p.name);
    std::vector<char> raw(e.end - e.begin);
    in.seekg(std::streamoff(8 + n + e.begin));
    if (!in.read(raw.data(), std::streamsize(raw.size()))) throw IoError(path + ": cannot read tensor '" + p.name + "'");
    std::vector<T> v(p.tensor->size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (e.dtype == "F32") {
        float f;
        std::memcpy(&f, raw.data() + 4 * i, 4);
        v[i] = T(f);
      } else {
        double d;
        std::memcpy(&d, raw.data() + 8 * i, 8);
        v[i] = T(d);
      }
    }
    values.push_back(std::move(v));
  }
  for (std::size_t i = 0; i < params.size(); ++i) std::copy(values[i].begin(), values[i].end(), params[i].tensor->data());
}

}  // namespace parcnn::io
