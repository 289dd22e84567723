// parcnn/parallel/fixed.hpp — strategy::Fixed: one cut, decided beforehand.
//
// What a Plan (parcnn/plan/) hands each stage it runs: the cut the plan chose for that stage's
// workload, applied as it is whatever the workload (extents beyond the space leave it whole).
#pragma once

#include <string>

#include "parcnn/parallel/index_space.hpp"

namespace parcnn::strategy {

struct Fixed {
  Cut cut_of_plan;

  Cut cut(const Workload& /*work*/, std::size_t /*workers*/) const { return cut_of_plan; }
  std::string name() const { return "fixed"; }
};

}  // namespace parcnn::strategy
