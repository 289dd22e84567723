// parcnn/parallel/hardware.hpp — what this machine has and does, read and measured at run time: its
// caches, and the memory bandwidth its workers drive at a given working set.
//
// cache_levels() reads Linux's sysfs (cpu0's cache/index*: level, type, size, the CPUs sharing it) and,
// where a virtual machine leaves that out, what the C library reads from CPUID (sysconf); `source` says
// which. A hypervisor may report caches the guest does not have to itself (a whole socket's L3), so
// the roofline does not trust them: bandwidth_ladder() measures STREAM's triad at working sets from L1's
// size to well past any cache, and a working set's roof is the bandwidth measured at the next rung up.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <fstream>
#include <string>
#include <vector>

#include "parcnn/core/aligned_buffer.hpp"
#include "parcnn/kernels/dispatch.hpp"
#include "parcnn/parallel/executor_profile.hpp"
#include "parcnn/parallel/index_space.hpp"
#include "parcnn/parallel/run.hpp"

namespace parcnn {

struct CacheLevel {
  int level = 0;
  std::string type;           // "Data", "Instruction" or "Unified"
  std::size_t bytes = 0;
  std::string shared_with;    // the CPUs sharing it, as sysfs lists them ("0-1"); empty when unknown
};

struct CacheInfo {
  std::vector<CacheLevel> levels;
  std::string source;  // "sysfs", "sysconf (CPUID)" or "none"
};

namespace detail {
inline std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// "48K", "1024K", "32M" or a plain count of bytes.
inline std::size_t parse_cache_size(const std::string& text) {
  std::size_t i = 0, value = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) value = value * 10 + std::size_t(text[i] - '0');
  if (i < text.size() && (text[i] == 'K' || text[i] == 'k')) return value << 10;
  if (i < text.size() && (text[i] == 'M' || text[i] == 'm')) return value << 20;
  if (i < text.size() && (text[i] == 'G' || text[i] == 'g')) return value << 30;
  return value;
}
}  // namespace detail

// The caches of cpu0 from `sysfs` (a directory of index0, index1, ...), else from sysconf.
inline CacheInfo cache_levels(const std::string& sysfs = "/sys/devices/system/cpu/cpu0/cache") {
  CacheInfo info;
  for (int i = 0;; ++i) {
    const std::string dir = sysfs + "/index" + std::to_string(i);
    const std::string level = detail::first_line(dir + "/level");
    if (level.empty()) break;
    CacheLevel c;
    c.level = std::atoi(level.c_str());
    c.type = detail::first_line(dir + "/type");
    c.bytes = detail::parse_cache_size(detail::first_line(dir + "/size"));
    c.shared_with = detail::first_line(dir + "/shared_cpu_list");
    info.levels.push_back(c);
  }
  if (!info.levels.empty()) {
    info.source = "sysfs";
    return info;
  }
#if defined(_SC_LEVEL1_DCACHE_SIZE)
  const struct {
    int level;
    const char* type;
    int name;
  } known[] = {{1, "Data", _SC_LEVEL1_DCACHE_SIZE},
               {1, "Instruction", _SC_LEVEL1_ICACHE_SIZE},
               {2, "Unified", _SC_LEVEL2_CACHE_SIZE},
               {3, "Unified", _SC_LEVEL3_CACHE_SIZE},
               {4, "Unified", _SC_LEVEL4_CACHE_SIZE}};
  for (const auto& k : known) {
    const long bytes = sysconf(k.name);
    if (bytes > 0) info.levels.push_back({k.level, k.type, std::size_t(bytes), ""});
  }
#endif
  info.source = info.levels.empty() ? "none" : "sysconf (CPUID)";
  return info;
}

// GB/s of STREAM's triad (a = b + s·c, 12 bytes a float moved: two read, one written) over arrays of
// `bytes` in all, cut into one contiguous block per worker of the calling scope, each worker running
// the triad over its block many times in a row (so that a working set small enough for a core's own
// caches measures them, not the fork-join); the best of `tries` runs of about `seconds` each, after an
// untimed one (the pages touched, the caches filled).
inline double triad_gbytes_per_second(std::size_t bytes, double seconds = 0.02, int tries = 3) {
  const std::size_t n = std::max<std::size_t>(bytes / (3 * sizeof(float)), 64), workers = current_workers();
  AlignedBuffer<float> a(n), b(n), c(n);
  std::fill(b.data(), b.data() + n, 1.0f);
  std::fill(c.data(), c.data() + n, 2.0f);
  const Cut cut{ceil_div(n, workers), 1, 1, 1};
  using Clock = std::chrono::steady_clock;
  const auto run = [&](std::size_t repeats) {  // seconds
    const Clock::time_point start = Clock::now();
    run_blocks(IndexSpace{n}, cut, [&](const Block& blk, std::size_t) {
      for (std::size_t r = 0; r < repeats; ++r)
        kernels::triad(a.data() + blk.n.begin, b.data() + blk.n.begin, c.data() + blk.n.begin, 0.5f, blk.n.size());
    });
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  const double once = run(1);
  const std::size_t repeats = std::max<std::size_t>(1, std::size_t(seconds / std::max(once, 1e-7)));
  double best = 0;
  for (int t = 0; t < tries; ++t) best = std::max(best, double(repeats) * double(3 * n * sizeof(float)) / run(repeats) / 1e9);
  return best;
}

struct BandwidthRung {
  std::size_t bytes = 0;     // the triad's working set
  double gbytes_per_s = 0;
};

// The triad's bandwidth at each working set of `sizes` (ascending), on the calling scope's workers.
inline std::vector<BandwidthRung> bandwidth_ladder(std::vector<std::size_t> sizes) {
  std::sort(sizes.begin(), sizes.end());
  std::vector<BandwidthRung> ladder;
  for (std::size_t s : sizes) ladder.push_back({s, triad_gbytes_per_second(s)});
  return ladder;
}

// The most bandwidth a working set of `bytes` can count on: the fastest rung at least as large (the
// next one up, unless noise made a larger one faster); past the last rung, the last rung's.
inline double roof_bandwidth(const std::vector<BandwidthRung>& ladder, double bytes) {
  double roof = 0;
  for (const BandwidthRung& r : ladder)
    if (double(r.bytes) >= bytes) roof = std::max(roof, r.gbytes_per_s);
  return roof > 0 || ladder.empty() ? roof : ladder.back().gbytes_per_s;
}

}  // namespace parcnn
