// parcnn/kernels/triad.hpp — STREAM's triad over spans: the memory traffic a core drives, for the
// bandwidth a roofline is drawn with.
//
// a[i] = b[i] + s·c[i]: two reads and a write per element, a vector at a time, nothing reused.

#include <cstddef>

#include "parcnn/kernels/dispatch.hpp"  // the entry points; a body from here on (kernels/targets.hpp)
#if defined(PARCNN_TARGET)

namespace parcnn::kernels::PARCNN_TARGET {

template <class T>
void triad(T* a, const T* b, const T* c, T s, std::size_t n) {
  using V = typename detail::Vec<T>::type;
  constexpr std::size_t L = detail::Vec<T>::lanes;
  const V sv = V{} + s;
  std::size_t i = 0;
  for (; i + L <= n; i += L) detail::store(a + i, detail::load(b + i) + sv * detail::load(c + i));
  for (; i < n; ++i) a[i] = b[i] + s * c[i];
}

}  // namespace parcnn::kernels::PARCNN_TARGET
#endif  // PARCNN_TARGET
