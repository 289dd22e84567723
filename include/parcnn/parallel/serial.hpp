// parcnn/parallel/serial.hpp — strategy::Serial: the whole space as one block, on the calling thread.
// The baseline every other strategy is checked against.
#pragma once

#include <string>

#include "parcnn/parallel/index_space.hpp"

namespace parcnn::strategy {

struct Serial {
  Cut cut(const Workload& work, std::size_t /*workers*/) const { return Cut::whole(work.space); }
  std::string name() const { return "serial"; }
};

}  // namespace parcnn::strategy
