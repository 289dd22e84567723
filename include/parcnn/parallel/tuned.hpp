// parcnn/parallel/tuned.hpp — strategy::Tuned: cuts looked up in a plan of measured choices, with
// strategy::Auto for whatever the plan does not hold.
//
// Auto decides from rules of thumb; which cut is fastest also depends on the machine (how dearly data
// moves between its cores, its cache sizes), and a rule that is right on one machine is 20 % off on
// another. `tune()` (parcnn/layers/tune.hpp) times the candidate cuts of every layer of a model for one
// input shape and thread count and records the fastest here. A Tuned value is cheap to copy (the plan
// is shared and immutable) and safe to use from several threads at once.
//
// An entry is keyed by the workload (index space, FLOPs, bytes) and the number of workers: two
// layers with the same key do the same amount of the same-shaped work, and share the choice.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "parcnn/parallel/auto.hpp"
#include "parcnn/parallel/index_space.hpp"

namespace parcnn::strategy {

struct Tuned {
  struct Timing {
    std::string strategy;  // a candidate's name: "spatial", "depth-first:32", ...
    double microseconds;   // its median time
  };
  struct Entry {
    Workload work;
    std::size_t workers = 1;
    std::string strategy;  // the chosen candidate's name
    Cut cut;
    std::vector<Timing> timings;  // every candidate measured, fastest first
    std::string note = {};        // why the choice is not the fastest of `timings`, if it is not
  };

  // Where the plan has no entry.
  Auto fallback;

  // The measured choice for `work` with `workers` workers, or null.
  const Entry* find(const Workload& work, std::size_t workers) const {
    if (!plan_) return nullptr;
    for (const Entry& e : *plan_)
      if (e.workers == workers && same(e.work, work)) return &e;
    return nullptr;
  }

  // Returns a copy of this plan with `entry` added (replacing an entry of the same key).
  Tuned with(Entry entry) const {
    Tuned t = *this;
    auto plan = std::make_shared<std::vector<Entry>>();
    if (plan_)
      for (const Entry& e : *plan_)
        if (!(e.workers == entry.workers && same(e.work, entry.work))) plan->push_back(e);
    plan->push_back(std::move(entry));
    t.plan_ = std::move(plan);
    return t;
  }

  std::size_t size() const { return plan_ ? plan_->size() : 0; }
  const std::vector<Entry>& entries() const {
    static const std::vector<Entry> none;
    return plan_ ? *plan_ : none;
  }

  Cut cut(const Workload& work, std::size_t workers) const {
    if (const Entry* e = find(work, workers)) return e->cut;
    return fallback.cut(work, workers);
  }

  AutoChoice choose(const Workload& work, std::size_t workers) const {
    const Entry* e = find(work, workers);
    if (!e) {
      AutoChoice c = fallback.choose(work, workers);
      c.reason = "not tuned, auto: " + c.reason;
      return c;
    }
    return {e->strategy, e->cut, e->note.empty() ? "measured: " + timings_text(*e)
                                                 : e->note + "; measured alone: " + timings_text(*e)};
  }

  // "spatial 37.1 us, serial 56.0 us, channel 69.2 us"
  static std::string timings_text(const Entry& e) {
    std::string text;
    for (const Timing& t : e.timings) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "%s%s %.1f us", text.empty() ? "" : ", ", t.strategy.c_str(), t.microseconds);
      text += buf;
    }
    return text.empty() ? "one worker, nothing to measure" : text;
  }

  std::string name() const { return "tuned"; }

  // Whether `other` looks its choices up in the same table (a copy of this one, or this one).
  bool same_table(const Tuned& other) const { return plan_ == other.plan_; }

 private:
  static bool same(const Workload& a, const Workload& b) {
    return a.space.n == b.space.n && a.space.c == b.space.c && a.space.h == b.space.h && a.space.w == b.space.w &&
           a.flops == b.flops && a.bytes == b.bytes;
  }

  std::shared_ptr<const std::vector<Entry>> plan_;
};

}  // namespace parcnn::strategy
