// libFuzzer entry for parcnn::fuzz::plan (tests/fuzz/harnesses.hpp).
#include "harnesses.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  parcnn::fuzz::plan(data, size);
  return 0;
}
