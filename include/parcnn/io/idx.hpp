// parcnn/io/idx.hpp — reads IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or plain.
//
// Format: two zero bytes, a type byte (0x08: unsigned byte, the only type these data sets use), the
// number of dimensions, each dimension as a big-endian 32-bit count, then the data. Every part is
// checked; a missing, truncated, over-long or corrupt file throws IoError naming the file and what is
// wrong, before more memory is allocated than the file's data needs. zlib's gzread reads plain files
// unchanged, so one path serves both.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "parcnn/core/error.hpp"

namespace parcnn {

namespace io {

struct IdxArray {
  std::vector<std::size_t> dims;
  std::vector<std::uint8_t> data;  // row-major, dims[0] × dims[1] × ...
};

namespace detail {
struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

// Reads exactly `count` bytes or says how many there were.
inline std::size_t read_bytes(gzFile f, const std::string& path, void* out, std::size_t count) {
  std::size_t done = 0;
  auto* p = static_cast<unsigned char*>(out);
  while (done < count) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(count - done, 1u << 30));
    const int got = gzread(f, p + done, chunk);
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(f, &code);
      throw IoError(path + ": corrupt or unreadable data (" + std::string(msg ? msg : "zlib error") + ")");
    }
    if (got == 0) {
      int code = Z_OK;
      gzerror(f, &code);
      // zlib reports a gzip stream cut short (its trailer or data missing) as a soft end of file.
      if (code == Z_BUF_ERROR) throw IoError(path + ": truncated: the gzip stream ends before its end marker");
      break;
    }
    done += std::size_t(got);
  }
  return done;
}

// The size of the file at `path` in bytes, or -1 when it cannot be told (not a regular file).
inline long long file_bytes(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? -1 : static_cast<long long>(n);
}
}  // namespace detail

// Reads an unsigned-byte IDX file of 1 to 4 dimensions.
inline IdxArray read_idx(const std::string& path, std::size_t max_bytes = std::size_t(1) << 32) {
  errno = 0;
  detail::GzFile f(gzopen(path.c_str(), "rb"));
  if (!f) throw IoError(path + ": cannot open (" + std::string(errno ? std::strerror(errno) : "out of memory") + ")");
  unsigned char magic[4];
  if (detail::read_bytes(f.get(), path, magic, 4) != 4) throw IoError(path + ": truncated: no IDX header");
  if (magic[0] != 0 || magic[1] != 0)
    throw IoError(path + ": not an IDX file (the first two bytes must be zero)");
  if (magic[2] != 0x08) {
    char type[8];
    std::snprintf(type, sizeof type, "0x%02X", unsigned(magic[2]));
    throw IoError(path + ": IDX element type " + type + " is not supported; parcnn reads unsigned-byte (0x08) IDX files");
  }
  const std::size_t rank = magic[3];
  if (rank < 1 || rank > 4) throw IoError(path + ": IDX files with " + std::to_string(rank) + " dimensions are not supported (1 to 4)");
  IdxArray out;
  std::size_t total = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    unsigned char be[4];
    if (detail::read_bytes(f.get(), path, be, 4) != 4)
      throw IoError(path + ": truncated header: " + std::to_string(d) + " of " + std::to_string(rank) + " dimensions");
    const std::size_t dim = (std::size_t(be[0]) << 24) | (std::size_t(be[1]) << 16) | (std::size_t(be[2]) << 8) | be[3];
    if (dim == 0) throw IoError(path + ": dimension " + std::to_string(d) + " is zero");
    if (total > max_bytes / dim) throw IoError(path + ": dimensions describe more than " + std::to_string(max_bytes) + " bytes");
    total *= dim;
    out.dims.push_back(dim);
  }
  const std::size_t header = 4 + 4 * rank;
  const long long on_disk = detail::file_bytes(path);
  if (gzdirect(f.get()) && on_disk >= 0 && std::size_t(on_disk) - header < total)  // plain: its size tells
    throw IoError(path + ": truncated: the header promises " + std::to_string(total) + " data bytes, the file holds " +
                  std::to_string(std::size_t(on_disk) - header));
  // Compressed, the size is known only once read: the buffer grows with the data that arrives (at
  // most doubling), so a header that promises more than the file holds costs no more memory than it.
  std::size_t got = 0;
  while (got < total) {
    out.data.resize(std::min(total, std::max<std::size_t>(got * 2, std::size_t(1) << 20)));
    const std::size_t want = out.data.size() - got, n = detail::read_bytes(f.get(), path, out.data.data() + got, want);
    got += n;
    if (n < want) break;
  }
  if (got != total)
    throw IoError(path + ": truncated: the header promises " + std::to_string(total) + " data bytes, the file holds " +
                  std::to_string(got));
  unsigned char extra;
  if (detail::read_bytes(f.get(), path, &extra, 1) != 0)
    throw IoError(path + ": more data than the header's dimensions describe");
  return out;
}

}  // namespace io
}  // namespace parcnn
