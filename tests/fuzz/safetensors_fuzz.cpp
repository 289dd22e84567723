// libFuzzer entry for parcnn::fuzz::safetensors (tests/fuzz/harnesses.hpp).
#include "harnesses.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  parcnn::fuzz::safetensors(data, size);
  return 0;
}
