// parcnn/kernels/epilogue_record.hpp — what a pooled convolution epilogue (kernels/epilogue.hpp) keeps
// for its fused backward.
#pragma once

#include <cstddef>
#include <cstdint>

namespace parcnn::kernels {

// What a training forward keeps of a pooled epilogue for the fused backward (Layer::backward_fused),
// in place of the convolution's output: for each window, the position in that output it took its value
// from (maxpool2x2_positions' numbering), and the pooled values before the element-wise post-op (with
// one; without, they are the epilogue's output). Both laid out as the epilogue's output.
template <class T>
struct EpilogueRecord {
  std::uint32_t* positions = nullptr;
  T* pooled = nullptr;

  // The record from element `offset` of the epilogue's output on (an image's, a block's); null stays null.
  EpilogueRecord at(std::size_t offset) const {
    return {positions ? positions + offset : nullptr, pooled ? pooled + offset : nullptr};
  }
};

}  // namespace parcnn::kernels
