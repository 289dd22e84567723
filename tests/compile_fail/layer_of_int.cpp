// Must not compile: a layer of a non-floating scalar type. See tests/CMakeLists.txt.
#include <parcnn/layers/gelu.hpp>

int main() {
  parcnn::GELU<long> gelu;
  return gelu.name().empty();
}
