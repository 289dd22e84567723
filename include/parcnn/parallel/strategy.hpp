// parcnn/parallel/strategy.hpp — Strategy: any of the strategies as one runtime value, with names.
//
// Layers take `const Strategy&`; every strategy type converts to it implicitly, so
// `conv.forward(x, strategy::Channel{})` works, and so does `Strategy::parse("tiled:8x8")` from a
// command line. Names:
//   serial | batch[:IMAGES] | channel[:CHANNELS] | spatial[:ROWS] | tiled[:HxW[xCHANNELS]] | auto
// ("sequential", the name it had before, is read as serial).
// strategy::Tuned has no name to parse: its plan is measured by tune() (parcnn/layers/tune.hpp).
#pragma once

#include <cctype>
#include <cstring>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/parallel/auto.hpp"
#include "parcnn/parallel/batch.hpp"
#include "parcnn/parallel/channel.hpp"
#include "parcnn/parallel/fixed.hpp"
#include "parcnn/parallel/index_space.hpp"
#include "parcnn/parallel/serial.hpp"
#include "parcnn/parallel/spatial.hpp"
#include "parcnn/parallel/tiled.hpp"
#include "parcnn/parallel/tuned.hpp"

namespace parcnn {

class Strategy {
 public:
  using Alternatives = std::variant<strategy::Serial, strategy::Batch, strategy::Channel, strategy::Spatial,
                                    strategy::Tiled, strategy::Auto, strategy::Tuned, strategy::Fixed>;

  Strategy() : value_(strategy::Auto{}) {}
  template <class S, class = std::enable_if_t<std::is_constructible_v<Alternatives, S>>>
  Strategy(S s) : value_(std::move(s)) {}

  // How this strategy cuts `work` for `workers` workers. Auto resolves to a fixed cut here.
  Cut cut(const Workload& work, std::size_t workers) const {
    return std::visit([&](const auto& s) { return s.cut(work, workers); }, value_);
  }

  std::string name() const {
    return std::visit([](const auto& s) { return s.name(); }, value_);
  }

  // The fixed strategy that runs `work` and why: for Auto and Tuned their choice, for the others
  // themselves.
  strategy::AutoChoice explain(const Workload& work, std::size_t workers) const {
    if (auto a = std::get_if<strategy::Auto>(&value_)) return a->choose(work, workers);
    if (auto t = std::get_if<strategy::Tuned>(&value_)) return t->choose(work, workers);
    return {name(), cut(work, workers), "fixed by the caller"};
  }

  const Alternatives& value() const { return value_; }

  // Whether `other` is the same strategy with the same settings (a Tuned one: the same table), so
  // that it cuts every workload the same way: what a cached plan is checked against. Cheap, and
  // allocates nothing.
  bool same_as(const Strategy& other) const {
    if (value_.index() != other.value_.index()) return false;
    return std::visit(
        [&](const auto& a) {
          using S = std::decay_t<decltype(a)>;
          const S& b = std::get<S>(other.value_);
          if constexpr (std::is_same_v<S, strategy::Serial>) return true;
          else if constexpr (std::is_same_v<S, strategy::Batch>) return a.grain == b.grain;
          else if constexpr (std::is_same_v<S, strategy::Channel>) return a.block == b.block;
          else if constexpr (std::is_same_v<S, strategy::Spatial>) return a.rows == b.rows;
          else if constexpr (std::is_same_v<S, strategy::Tiled>)
            return a.tile_h == b.tile_h && a.tile_w == b.tile_w && a.channel_block == b.channel_block;
          else if constexpr (std::is_same_v<S, strategy::Auto>) return same_auto(a, b);
          else if constexpr (std::is_same_v<S, strategy::Tuned>)
            return a.same_table(b) && same_auto(a.fallback, b.fallback);
          else
            return a.cut_of_plan.n == b.cut_of_plan.n && a.cut_of_plan.c == b.cut_of_plan.c &&
                   a.cut_of_plan.h == b.cut_of_plan.h && a.cut_of_plan.w == b.cut_of_plan.w;
        },
        value_);
  }

  // Parses a name (see the header comment). Throws ConfigError naming the bad part.
  static Strategy parse(const std::string& text) {
    const auto colon = text.find(':');
    const std::string kind = text.substr(0, colon);
    const std::string arg = colon == std::string::npos ? "" : text.substr(colon + 1);
    auto bad = [&](const std::string& why) {
      return ConfigError("unknown strategy '" + text + "': " + why +
                         " (expected serial, batch[:N], channel[:N], spatial[:N], tiled[:HxW[xC]] or auto)");
    };
    auto number = [&](const std::string& s) -> std::size_t {
      if (s.empty() || s.size() > 6) throw bad("'" + s + "' is not a positive count");
      for (char ch : s)
        if (!std::isdigit(static_cast<unsigned char>(ch))) throw bad("'" + s + "' is not a positive count");
      const std::size_t v = std::stoul(s);
      if (v == 0) throw bad("a count must be at least 1");
      return v;
    };
    if (colon != std::string::npos && arg.empty()) throw bad("nothing after ':'");
    if (kind == "tuned")
      throw ConfigError("strategy 'tuned' has no name to parse: its plan is measured for a model and an input shape "
                        "by parcnn::tune(model, shape)");
    if (kind == "serial" || kind == "sequential" || kind == "auto") {
      if (!arg.empty()) throw bad("'" + kind + "' takes no parameter");
      return kind == "auto" ? Strategy(strategy::Auto{}) : Strategy(strategy::Serial{});
    }
    if (kind == "batch") return strategy::Batch{arg.empty() ? 0 : number(arg)};
    if (kind == "channel") return strategy::Channel{arg.empty() ? 0 : number(arg)};
    if (kind == "spatial") return strategy::Spatial{arg.empty() ? 0 : number(arg)};
    if (kind == "tiled") {
      strategy::Tiled t;
      if (arg.empty()) return t;
      std::vector<std::string> parts(1);
      for (char ch : arg) {
        if (ch == 'x')
          parts.emplace_back();
        else
          parts.back().push_back(ch);
      }
      if (parts.size() < 2 || parts.size() > 3) throw bad("tiles are HxW or HxWxC");
      t.tile_h = number(parts[0]);
      t.tile_w = number(parts[1]);
      if (parts.size() == 3) t.channel_block = number(parts[2]);
      return t;
    }
    throw bad("'" + kind + "' is not a strategy");
  }

 private:
  // Auto holds numbers only: equal bytes, equal settings.
  static bool same_auto(const strategy::Auto& a, const strategy::Auto& b) {
    static_assert(std::is_trivially_copyable_v<strategy::Auto>, "Auto's settings are compared bytewise");
    return std::memcmp(&a, &b, sizeof(strategy::Auto)) == 0;
  }

  Alternatives value_;
};

}  // namespace parcnn
