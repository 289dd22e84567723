// parcnn/kernels/post_ops.hpp — post-ops: the work of the layers after a layer, run by that layer on
// its output while it is still in cache (a convolution's output tile, a Linear layer's block of rows).
//
// A post-op is a 2×2 max pool (stride 2, floor) or an element-wise function (GELU, ReLU, LeakyReLU,
// Sigmoid, Tanh). A layer says which lists
// it can run (Layer::accepts); the plan builds each stage's list once from the layers that follow
// (Layer::as_post_op) and checks it. Each step is the kernel the separate layer runs, on the same values
// in the same order: fused and apart give the same bits.
#pragma once

#include <array>
#include <charconv>
#include <cmath>
#include <system_error>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "parcnn/core/error.hpp"
#include "parcnn/core/shape.hpp"

namespace parcnn::kernels {

enum class GeluApproximation { none, tanh };  // PyTorch's approximate='none' | 'tanh'

struct PostOp {
  enum class Kind { max_pool_2x2, gelu, gelu_tanh, relu, leaky_relu, sigmoid, tanh };
  Kind kind;
  double slope = 0;  // leaky_relu's negative slope; 0 for the others

  bool elementwise() const { return kind != Kind::max_pool_2x2; }
  bool operator==(const PostOp& o) const { return kind == o.kind && slope == o.slope; }
  bool operator!=(const PostOp& o) const { return !(*this == o); }

  // "2x2 max pool", "GELU", "GELU(tanh)", "ReLU", "LeakyReLU(0.01)", "Sigmoid", "Tanh": as the layers
  // name themselves.
  std::string str() const {
    switch (kind) {
      case Kind::max_pool_2x2: return "2x2 max pool";
      case Kind::gelu: return "GELU";
      case Kind::gelu_tanh: return "GELU(tanh)";
      case Kind::relu: return "ReLU";
      case Kind::leaky_relu: return "LeakyReLU(" + number(slope) + ")";
      case Kind::sigmoid: return "Sigmoid";
      case Kind::tanh: return "Tanh";
    }
    return "?";
  }

  // Its name in a plan file, and back ("leaky_relu(0.01)": the shortest digits that give the slope back).
  std::string key() const {
    switch (kind) {
      case Kind::max_pool_2x2: return "max_pool_2x2";
      case Kind::gelu: return "gelu";
      case Kind::gelu_tanh: return "gelu_tanh";
      case Kind::relu: return "relu";
      case Kind::leaky_relu: return "leaky_relu(" + number(slope) + ")";
      case Kind::sigmoid: return "sigmoid";
      case Kind::tanh: return "tanh";
    }
    return "?";
  }
  static std::optional<PostOp> from_key(std::string_view key) {
    for (Kind k : {Kind::max_pool_2x2, Kind::gelu, Kind::gelu_tanh, Kind::relu, Kind::sigmoid, Kind::tanh})
      if (key == PostOp{k}.key()) return PostOp{k};
    const std::string_view leaky = "leaky_relu(";
    if (key.size() > leaky.size() + 1 && key.substr(0, leaky.size()) == leaky && key.back() == ')') {
      const char *first = key.data() + leaky.size(), *last = key.data() + key.size() - 1;
      double slope = 0;
      const std::from_chars_result r = std::from_chars(first, last, slope);
      if (r.ec == std::errc() && r.ptr == last && std::isfinite(slope)) return PostOp{Kind::leaky_relu, slope};
    }
    return std::nullopt;
  }

 private:
  static std::string number(double v) {
    char text[32];
    return std::string(text, std::to_chars(text, text + sizeof text, v).ptr);
  }
};

// A list of at most `capacity` post-ops, in the order they run; it never allocates.
class PostOps {
 public:
  static constexpr std::size_t capacity = 4;

  PostOps() = default;
  PostOps(std::initializer_list<PostOp> ops) {
    for (const PostOp& op : ops) *this = then(op);
  }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  bool full() const { return size_ == capacity; }
  const PostOp& operator[](std::size_t i) const { return ops_[i]; }
  const PostOp* begin() const { return ops_.data(); }
  const PostOp* end() const { return ops_.data() + size_; }

  // This list followed by `op`; ConfigError when it is full.
  PostOps then(const PostOp& op) const {
    if (full()) throw ConfigError("post-ops: at most " + std::to_string(capacity) + " after one layer");
    PostOps p = *this;
    p.ops_[p.size_++] = op;
    return p;
  }

  // Whether the list starts with a 2×2 max pool, and the output positions per dimension for each
  // position of the layer's own output that it reads (2 with the pool).
  bool pools() const { return size_ > 0 && ops_[0].kind == PostOp::Kind::max_pool_2x2; }
  std::size_t reduction() const { return pools() ? 2 : 1; }

  // Whether every post-op from the `first`-th on is element-wise (all of them: first = 0).
  bool elementwise_from(std::size_t first) const {
    for (std::size_t i = first; i < size_; ++i)
      if (!ops_[i].elementwise()) return false;
    return true;
  }
  // Whether any post-op is element-wise.
  bool has_elementwise() const {
    for (const PostOp& op : *this)
      if (op.elementwise()) return true;
    return false;
  }

  // The shape after the post-ops of a layer's output of shape `out`: each pool halves the last two
  // dimensions (floor). ShapeError where a pool finds no whole 2×2 window.
  Shape output_shape(const Shape& out) const {
    Shape s = out;
    for (const PostOp& op : *this) {
      if (op.elementwise()) continue;
      if (s.rank() != 4 || s[2] < 2 || s[3] < 2)
        throw ShapeError(std::string(op.str()) + ": expected [N, C, H, W] with H, W >= 2, got " + s.str());
      s = Shape{s[0], s[1], s[2] / 2, s[3] / 2};
    }
    return s;
  }

  bool operator==(const PostOps& o) const {
    if (size_ != o.size_) return false;
    for (std::size_t i = 0; i < size_; ++i)
      if (ops_[i] != o.ops_[i]) return false;
    return true;
  }
  bool operator!=(const PostOps& o) const { return !(*this == o); }

  // "2x2 max pool + GELU(tanh)", or "none".
  std::string str() const {
    std::string s;
    for (const PostOp& op : *this) s += (s.empty() ? "" : " + ") + std::string(op.str());
    return s.empty() ? "none" : s;
  }

 private:
  std::array<PostOp, capacity> ops_{};
  std::size_t size_ = 0;
};

}  // namespace parcnn::kernels
