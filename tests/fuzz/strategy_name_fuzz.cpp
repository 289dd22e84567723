// libFuzzer entry for parcnn::fuzz::strategy_name (tests/fuzz/harnesses.hpp).
#include "harnesses.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  parcnn::fuzz::strategy_name(data, size);
  return 0;
}
