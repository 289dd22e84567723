// parcnn/version.hpp — the library version (kept equal to the CMake project version).
#pragma once

#define PARCNN_VERSION_MAJOR 0
#define PARCNN_VERSION_MINOR 1
#define PARCNN_VERSION_PATCH 0

namespace parcnn {
inline constexpr const char* version = "0.1.0";
}
