// parcnn/kernels/conv2d_geometry.hpp — the sizes a 2-D convolution or pooling kernel works with.
#pragma once

#include <cstddef>

namespace parcnn::kernels {

// One image's convolution: input [in_c, in_h, in_w] → output [out_c, out_h, out_w], weight
// [out_c, in_c / groups, k_h, k_w] (PyTorch's layout), zero padding; kernel tap (ky, kx) reads input
// (oh·stride_h + ky·dil_h − pad_h, ow·stride_w + kx·dil_w − pad_w). With groups, output channels
// [j·out_c/groups, (j+1)·out_c/groups) read input channels [j·in_c/groups, (j+1)·in_c/groups) alone.
// For pooling, in_c == out_c.
struct Conv2dGeometry {
  std::size_t in_c = 1, in_h = 1, in_w = 1;
  std::size_t out_c = 1, out_h = 1, out_w = 1;
  std::size_t k_h = 1, k_w = 1;
  std::size_t stride_h = 1, stride_w = 1;
  std::size_t pad_h = 0, pad_w = 0;
  std::size_t dil_h = 1, dil_w = 1;
  std::size_t groups = 1;

  std::size_t patch() const { return in_c / groups * k_h * k_w; }  // K of the im2col GEMM
  std::size_t positions() const { return out_h * out_w; }  // N of the im2col GEMM for one image
  std::size_t in_image() const { return in_c * in_h * in_w; }
  std::size_t out_image() const { return out_c * out_h * out_w; }
  bool dilated() const { return dil_h != 1 || dil_w != 1; }
  // One group's convolution: in_c / groups → out_c / groups channels, groups = 1. Its input is the
  // group's channels of the image, its weight and output the group's rows and channels.
  Conv2dGeometry group() const {
    Conv2dGeometry one = *this;
    one.in_c = in_c / groups;
    one.out_c = out_c / groups;
    one.groups = 1;
    return one;
  }
};

}  // namespace parcnn::kernels
