// parcnn/core/scalar.hpp — the scalar types parcnn computes in.
#pragma once

#include <type_traits>

namespace parcnn {

template <class T>
inline constexpr bool is_supported_scalar_v =
    std::is_same_v<std::remove_const_t<T>, float> || std::is_same_v<std::remove_const_t<T>, double>;

// Used by every public template: `static_assert` here gives one readable line instead of pages of
// template errors from deep inside a kernel.
#define PARCNN_CHECK_SCALAR(T)                                                  \
  static_assert(::parcnn::is_supported_scalar_v<T>,                             \
                "parcnn supports float and double only: instantiate with one of them")

}  // namespace parcnn
