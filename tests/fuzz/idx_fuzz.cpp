// libFuzzer entry for parcnn::fuzz::idx (tests/fuzz/harnesses.hpp).
#include "harnesses.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  parcnn::fuzz::idx(data, size);
  return 0;
}
