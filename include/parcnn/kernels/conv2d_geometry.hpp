// parcnn/kernels/conv2d_geometry.hpp — the sizes a 2-D convolution or pooling kernel works with.
#pragma once

#include <cstddef>

namespace parcnn::kernels {

// One image's convolution: input [in_c, in_h, in_w] → output [out_c, out_h, out_w], weight
// [out_c, in_c, k_h, k_w] (PyTorch's layout), zero padding. For pooling, in_c == out_c.
struct Conv2dGeometry {
  std::size_t in_c = 1, in_h = 1, in_w = 1;
  std::size_t out_c = 1, out_h = 1, out_w = 1;
  std::size_t k_h = 1, k_w = 1;
  std::size_t stride_h = 1, stride_w = 1;
  std::size_t pad_h = 0, pad_w = 0;

  std::size_t patch() const { return in_c * k_h * k_w; }  // K of the im2col GEMM
  std::size_t positions() const { return out_h * out_w; }  // N of the im2col GEMM for one image
  std::size_t in_image() const { return in_c * in_h * in_w; }
  std::size_t out_image() const { return out_c * out_h * out_w; }
};

}  // namespace parcnn::kernels
