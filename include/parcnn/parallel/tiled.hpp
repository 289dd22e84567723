// parcnn/parallel/tiled.hpp — strategy::Tiled: blocks of one image × a channel block × a 2-D tile of
// output positions, sized so a block's working set stays in cache.
//
// A convolution block builds the im2col columns of its tile; with a channel block smaller than all
// channels, each channel block of the same tile builds them again (the price of smaller blocks).
#pragma once

#include <string>

#include "parcnn/parallel/index_space.hpp"

namespace parcnn::strategy {

struct Tiled {
  std::size_t tile_h = 8, tile_w = 8;
  std::size_t channel_block = 0;  // output channels per block; 0 = all channels

  Cut cut(const Workload& work, std::size_t /*workers*/) const {
    return Cut{1, channel_block ? channel_block : work.space.c, tile_h, tile_w};
  }
  std::string name() const {
    std::string s = "tiled:" + std::to_string(tile_h) + "x" + std::to_string(tile_w);
    if (channel_block) s += "x" + std::to_string(channel_block);
    return s;
  }
};

}  // namespace parcnn::strategy
