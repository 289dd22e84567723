// examples/cli.hpp — what the example and benchmark programs share: flags parsed by CLI11 with the
// checks CLI11 does not make, output files written and checked, JSON lines, and where Fashion-MNIST lives.
#pragma once

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <parcnn/core/error.hpp>
#include <parcnn/io/idx.hpp>
#include <parcnn/parallel/strategy.hpp>

namespace examples {

// Parses the command line. On --help or a bad flag prints what CLI11 says and returns the exit status
// (0 for --help, 2 for a bad flag); otherwise nullopt, and every flag has passed its checks.
inline std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

// A finite number in [lo, hi]. (CLI::Range lets NaN through: every comparison with it is false.)
inline CLI::Validator finite_in(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v)) return "'" + text + "' is not a number";
        if (!std::isfinite(v) || v < lo || v > hi)
          return "'" + text + "' is not a finite number in [" + CLI::detail::to_string(lo) + ", " +
                 CLI::detail::to_string(hi) + "]";
        return {};
      },
      "FINITE in [" + CLI::detail::to_string(lo) + ", " + CLI::detail::to_string(hi) + "]");
}

// A finite number above zero.
inline CLI::Validator finite_positive() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v) || !std::isfinite(v) || !(v > 0))
          return "'" + text + "' is not a finite number above 0";
        return {};
      },
      "FINITE > 0");
}

// A name parcnn::Strategy::parse takes, or "tuned" where `tuned` allows it.
inline CLI::Validator strategy_name(bool tuned) {
  return CLI::Validator(
      [tuned](std::string& text) -> std::string {
        if (tuned && text == "tuned") return {};
        try {
          parcnn::Strategy::parse(text);
        } catch (const parcnn::ConfigError& e) {
          return e.what();
        }
        return {};
      },
      tuned ? "STRATEGY|tuned" : "STRATEGY");
}

// A file to be written: its directory must exist (checked before any work, not after it).
inline CLI::Validator writable_path() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const std::filesystem::path dir = std::filesystem::path(text).parent_path();
        std::error_code ec;
        if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) return "the directory of '" + text + "' does not exist";
        if (std::filesystem::is_directory(text, ec)) return "'" + text + "' is a directory";
        return {};
      },
      "FILE");
}

// Writes `bytes` bytes to `path`, or throws IoError naming the path and why (no such directory, a full
// disk): every write and the close are checked.
inline void write_file(const std::string& path, const void* data, std::size_t bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw parcnn::IoError(path + ": cannot open for writing (" + std::strerror(errno) + ")");
  const bool written = std::fwrite(data, 1, bytes, f) == bytes && std::fflush(f) == 0;
  const int error = errno;
  if (std::fclose(f) != 0 || !written)
    throw parcnn::IoError(path + ": write failed (" + std::strerror(written ? errno : error) + ")");
}

// Reads exactly `bytes` bytes of `path` into `data`, or throws IoError: cannot open, or holds another size.
inline void read_file(const std::string& path, void* data, std::size_t bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw parcnn::IoError(path + ": cannot open (" + std::strerror(errno) + ")");
  const auto size = static_cast<std::size_t>(in.tellg());
  if (size != bytes)
    throw parcnn::IoError(path + ": holds " + std::to_string(size) + " bytes, needs exactly " + std::to_string(bytes));
  in.seekg(0);
  if (!in.read(static_cast<char*>(data), std::streamsize(bytes))) throw parcnn::IoError(path + ": cannot read");
}

// Prints one JSON object on a line of its own, its keys in the order given.
inline void print_json_line(const nlohmann::ordered_json& object) {
  std::puts(object.dump().c_str());
  std::fflush(stdout);
}

inline const char* fashion_mnist_dir = "/usr/share/datasets/fashion-mnist";

// DIR/name.gz if it exists, else DIR/name.
inline std::string data_file(const std::string& dir, const std::string& name) {
  const std::string gz = dir + "/" + name + ".gz";
  return std::filesystem::exists(gz) ? gz : dir + "/" + name;
}

inline const char* const fashion_mnist_classes[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

}  // namespace examples
