// parcnn/parallel/machine_profile.hpp — what this machine's cores cost: the kernels' one-core rates
// (kernels::cost::Rates, what a layer's time estimate is built from) and what a cut costs (a oneTBB
// fork-join, a team's hand-off, and the round trip between two cores at which those were measured).
//
// The library carries the reference machine's figures as defaults. `build/bench/calibrate` measures
// them on the machine it runs on and writes a profile file; `use_machine_profile(MachineProfile::load(
// path))` makes every estimate and every strategy::Auto made after it use that machine's figures.
// The file is text, one `key = value` per line, `#` comments; a key it leaves out keeps its default.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <list>
#include <mutex>
#include <sstream>
#include <string>

#include "parcnn/core/error.hpp"
#include "parcnn/kernels/cost.hpp"

namespace parcnn {

struct MachineProfile {
  kernels::cost::Rates rates;
  // What a cut costs through oneTBB (a fork-join), and handed to a team's spinning helpers.
  double fork_join_ns = 1200;
  double team_fork_join_ns = 400;
  // The round trip of a cache line between two cores when the costs above were measured: strategy::Auto
  // scales its costs by an executor's hand-off over this one.
  double reference_hand_off_ns = 150;

  // The profile as its file holds it.
  std::string text() const {
    std::string out = "# parcnn machine profile: key = value; a key left out keeps its default\n";
    for_each_field(*this, [&](const char* key, const double& value) {
      char line[128];
      std::snprintf(line, sizeof line, "%s = %.6g\n", key, value);
      out += line;
    });
    return out;
  }

  // The profile in `text`; ConfigError naming `source`, the line and the key for an unknown key, a
  // line that is not `key = value`, or a value that is not a positive number.
  static MachineProfile parse(const std::string& text, const std::string& source = "machine profile") {
    MachineProfile p;
    std::istringstream in(text);
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
      const std::string where = source + ":" + std::to_string(number);
      const std::size_t hash = line.find('#');
      if (hash != std::string::npos) line.resize(hash);
      const std::size_t eq = line.find('=');
      const std::string key = trim(line.substr(0, eq));
      if (key.empty() && eq == std::string::npos) continue;  // blank
      if (eq == std::string::npos || key.empty()) throw ConfigError(where + ": expected 'key = value'");
      const std::string value = trim(line.substr(eq + 1));
      double v = 0;
      std::size_t used = 0;
      try {
        v = std::stod(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != value.size() || !std::isfinite(v) || v <= 0)
        throw ConfigError(where + ": " + key + " must be a positive number, got '" + value + "'");
      bool known = false;
      for_each_field(p, [&](const char* name, double& field) {
        if (key == name) {
          field = v;
          known = true;
        }
      });
      if (!known) throw ConfigError(where + ": unknown key '" + key + "'");
    }
    return p;
  }

  // The profile in the file at `path`; IoError when it cannot be read, ConfigError as parse.
  static MachineProfile load(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw IoError(path + ": cannot open the machine profile");
    std::ostringstream text;
    text << in.rdbuf();
    if (text.str().size() > (std::size_t(1) << 20)) throw IoError(path + ": too large for a machine profile");
    return parse(text.str(), path);
  }

 private:
  // f(key, field) for every field, in the file's order; P is MachineProfile, const or not.
  template <class P, class F>
  static void for_each_field(P& p, F&& f) {
    f("fork_join_ns", p.fork_join_ns);
    f("team_fork_join_ns", p.team_fork_join_ns);
    f("reference_hand_off_ns", p.reference_hand_off_ns);
    auto& r = p.rates;
    f("gemm_flop_per_ns", r.gemm_flop_per_ns);
    f("small_gemm_flop_per_ns", r.small_gemm_flop_per_ns);
    f("stream_bytes_per_ns", r.stream_bytes_per_ns);
    f("copy_bytes_per_ns", r.copy_bytes_per_ns);
    f("direct_conv_ns_per_vector_fma", r.direct_conv_ns_per_vector_fma);
    f("im2col_ns_per_segment", r.im2col_ns_per_segment);
    f("im2col_ns_per_value", r.im2col_ns_per_value);
    f("im2col_ns_per_short_vector", r.im2col_ns_per_short_vector);
    f("gelu_ns_per_value", r.gelu_ns_per_value);
    f("log_softmax_ns_per_value", r.log_softmax_ns_per_value);
    f("max_pool_ns_per_row", r.max_pool_ns_per_row);
    f("max_pool_ns_per_window_value", r.max_pool_ns_per_window_value);
    f("max_pool_ns_per_single_window", r.max_pool_ns_per_single_window);
  }

  static std::string trim(const std::string& s) {
    const std::size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
  }
};

namespace detail {
struct MachineProfileStore {
  MachineProfile defaults;
  std::atomic<const MachineProfile*> current{&defaults};
  std::mutex mutex;
  std::list<MachineProfile> kept;  // every profile applied, alive for the program
};
inline MachineProfileStore& machine_profile_store() {
  static MachineProfileStore store;
  return store;
}
}  // namespace detail

// The profile in use: the defaults until use_machine_profile.
inline const MachineProfile& machine_profile() {
  return *detail::machine_profile_store().current.load(std::memory_order_acquire);
}

// Makes `p` the profile in use: the kernels' rates for every estimate made from now on, and the cut
// costs of every strategy::Auto constructed from now on. Plans and Auto values already made keep
// theirs. Safe to call while other threads plan.
inline void use_machine_profile(const MachineProfile& p) {
  detail::MachineProfileStore& store = detail::machine_profile_store();
  const std::lock_guard<std::mutex> lock(store.mutex);
  store.kept.push_back(p);
  store.current.store(&store.kept.back(), std::memory_order_release);
  kernels::cost::use_rates(p.rates);
}

}  // namespace parcnn
