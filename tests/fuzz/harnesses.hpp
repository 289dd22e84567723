// tests/fuzz/harnesses.hpp — what each fuzzer does with one input, shared by the libFuzzer programs
// (tests/fuzz/*_fuzz.cpp, built with PARCNN_BUILD_FUZZERS) and by fuzz/corpus_test, which replays every
// input of the seed corpus and of the regressions found so far in the ordinary test suite.
//
// An input may only end in the reader's documented error (IoError for a file, ConfigError for a
// strategy name); anything else — a crash, a sanitizer report, another exception, an allocation beyond
// what the input can justify — is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

#include <parcnn/io/idx.hpp>
#include <parcnn/io/plan_file.hpp>
#include <parcnn/io/safetensors.hpp>
#include <parcnn/layers/conv2d.hpp>
#include <parcnn/layers/flatten.hpp>
#include <parcnn/layers/gelu.hpp>
#include <parcnn/layers/linear.hpp>
#include <parcnn/layers/maxpool2d.hpp>
#include <parcnn/layers/sequential.hpp>
#include <parcnn/parallel/strategy.hpp>

namespace parcnn::fuzz {

// The bytes as a file in memory (memfd), opened by path like any other: /proc/self/fd/N.
class MemoryFile {
 public:
  MemoryFile(const std::uint8_t* data, std::size_t size) : fd_(::memfd_create("parcnn_fuzz", 0)) {
    if (fd_ < 0) throw std::runtime_error("memfd_create failed");
    for (std::size_t done = 0; done < size;) {
      const ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) throw std::runtime_error("memfd write failed");
      done += std::size_t(n);
    }
  }
  ~MemoryFile() { ::close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

// The model the safetensors inputs are loaded into: conv.weight [2, 1, 3, 3], conv.bias [2],
// fc.weight [3, 2], fc.bias [3] (the seed corpus holds files of it).
inline Sequential<float> safetensors_model() {
  Sequential<float> m;
  m.add("conv", Conv2d<float>(1, 2, 3)).add("flat", Flatten<float>()).add("fc", Linear<float>(2, 3));
  return m;
}

inline void safetensors(const std::uint8_t* data, std::size_t size) {
  const MemoryFile file(data, size);
  Sequential<float> model = safetensors_model();
  try {
    io::load_safetensors(file.path(), model);
  } catch (const IoError&) {
  }
}

inline void idx(const std::uint8_t* data, std::size_t size) {
  const MemoryFile file(data, size);
  try {
    const io::IdxArray a = io::read_idx(file.path(), std::size_t(64) << 20);
    std::size_t total = 1;
    for (std::size_t d : a.dims) total *= d;
    if (a.dims.empty() || a.dims.size() > 4 || total != a.data.size()) __builtin_trap();  // the reader's promise
  } catch (const IoError&) {
  }
}

// A name either parses, and then its canonical name parses to the same strategy and its cuts are
// valid, or it is a ConfigError.
inline void strategy_name(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  Strategy s;
  try {
    s = Strategy::parse(text);
  } catch (const ConfigError&) {
    return;
  }
  if (Strategy::parse(s.name()).name() != s.name()) __builtin_trap();
  Workload w;
  w.space = IndexSpace{7, 5, 3, 2};
  w.flops = 1e6;
  w.one_core_ns = 1e4;
  for (std::size_t workers : {1, 2, 3}) {
    const Cut c = s.cut(w, workers);
    if (c.n == 0 || c.c == 0 || c.h == 0 || c.w == 0) __builtin_trap();
  }
}

// The model the plan inputs are read for: conv [2→3, 3×3] → 2×2 max pool → GELU → flatten → fc
// [12→4], on input [2, 2, 6, 6] (the seed corpus holds plans of it).
inline Sequential<float> plan_model() {
  Sequential<float> m;
  m.add("conv", Conv2d<float>(2, 3, 3)).add("pool", MaxPool2d<float>(2)).add("act", GELU<float>());
  m.add("flat", Flatten<float>()).add("fc", Linear<float>(12, 4));
  return m;
}

// A plan either loads, and then runs (a plan made for the workers at hand: on them; any other: a
// ConfigError), or it is an IoError.
inline void plan(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const Sequential<float> model = plan_model();
  Plan p;
  try {
    p = io::plan_from_json(text, model, "fuzz input");
  } catch (const IoError&) {
    return;
  }
  Tensor<float> x(p.input);
  Workspace<float> ws;
  try {
    if (p.pass == Pass::inference)
      model.forward(x, p, ws);
    else
      model.forward_for_backward(x, p, ws);
  } catch (const ConfigError&) {
    if (p.profile.workers == current_workers()) __builtin_trap();  // a loaded plan for these workers runs
  }
}

}  // namespace parcnn::fuzz
