// parcnn/core/error.hpp — the exceptions parcnn throws.
//
// Every precondition a user can violate (a mis-shaped input, a zero-sized dimension, a bad strategy
// name) is reported with one of these, never with an assertion or a crash. Messages name the layer,
// what it expected and what it was given, in the style of "Conv2d(32->64, k=3): expected input
// [N, 32, H, W] with H, W >= 3, got [8, 16, 13, 13]".
#pragma once

#include <stdexcept>
#include <string>

namespace parcnn {

// A shape that a layer, kernel or tensor operation cannot accept.
class ShapeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A configuration value out of its domain: a thread count of 0, an unknown strategy name, a stride of 0.
class ConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A file that cannot be read as what it claims to be.
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace parcnn
