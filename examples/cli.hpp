// examples/cli.hpp — the little the examples share: flags, and where Fashion-MNIST lives.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

namespace examples {

// Flags of the form --name value (or --name alone for switches listed in `switches`).
class Flags {
 public:
  Flags(int argc, char** argv, const std::map<std::string, std::string>& defaults, const char* usage)
      : values_(defaults), usage_(usage) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help") fail("");
      if (a.rfind("--", 0) != 0 || !values_.count(a.substr(2))) fail("unknown argument '" + a + "'");
      const std::string name = a.substr(2);
      if (values_[name] == "false" || values_[name] == "true") {
        values_[name] = "true";
        continue;
      }
      if (i + 1 >= argc) fail(a + " needs a value");
      values_[name] = argv[++i];
    }
  }

  const std::string& str(const std::string& name) const { return values_.at(name); }
  bool on(const std::string& name) const { return values_.at(name) == "true"; }
  double number(const std::string& name) const {
    char* end = nullptr;
    const double v = std::strtod(str(name).c_str(), &end);
    if (str(name).empty() || *end || !(v >= 0)) fail("--" + name + " needs a non-negative number, got '" + str(name) + "'");
    return v;
  }
  std::size_t count(const std::string& name) const {
    const double v = number(name);
    if (v != double(std::size_t(v))) fail("--" + name + " needs a whole number, got '" + str(name) + "'");
    return std::size_t(v);
  }
  [[noreturn]] void fail(const std::string& error) const {
    if (!error.empty()) std::fprintf(stderr, "error: %s\n", error.c_str());
    std::fprintf(stderr, "%s", usage_);
    std::exit(error.empty() ? 0 : 2);
  }

 private:
  std::map<std::string, std::string> values_;
  const char* usage_;
};

inline const char* fashion_mnist_dir = "/usr/share/datasets/fashion-mnist";

// DIR/name.gz if it exists, else DIR/name.
inline std::string data_file(const std::string& dir, const std::string& name) {
  const std::string gz = dir + "/" + name + ".gz";
  return std::filesystem::exists(gz) ? gz : dir + "/" + name;
}

inline const char* const fashion_mnist_classes[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

}  // namespace examples
