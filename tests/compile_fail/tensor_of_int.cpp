// Must not compile: parcnn computes in float and double only. The test suite builds this file and
// expects the build to fail with the static_assert's message (see tests/CMakeLists.txt).
#include <parcnn/core/tensor.hpp>

int main() {
  parcnn::Tensor<int> t(parcnn::Shape{2});
  return static_cast<int>(t.size());
}
