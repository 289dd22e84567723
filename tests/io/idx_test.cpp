// IDX reading: plain and gzip files, and every way a file can be wrong.
#include <parcnn/io/idx.hpp>

#include <cstdio>
#include <fstream>

#include <sys/resource.h>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

std::vector<unsigned char> idx_bytes(const std::vector<std::uint32_t>& dims, std::size_t data_bytes, unsigned char type = 8) {
  std::vector<unsigned char> b{0, 0, type, static_cast<unsigned char>(dims.size())};
  for (std::uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(d >> s));
  for (std::size_t i = 0; i < data_bytes; ++i) b.push_back(static_cast<unsigned char>(i * 7));
  return b;
}

void write_plain(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

void write_gz(const std::string& path, const std::vector<unsigned char>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  gzclose(f);
}

TEST(IdxTest, ReadsPlainAndGzipFiles) {
  const auto bytes = idx_bytes({3, 2, 5}, 30);
  write_plain(temp_path("a.idx"), bytes);
  write_gz(temp_path("a.idx.gz"), bytes);
  for (const char* name : {"a.idx", "a.idx.gz"}) {
    const io::IdxArray a = io::read_idx(temp_path(name));
    EXPECT_EQ(a.dims, (std::vector<std::size_t>{3, 2, 5}));
    ASSERT_EQ(a.data.size(), 30u);
    EXPECT_EQ(a.data[29], static_cast<unsigned char>(29 * 7));
  }
}

TEST(IdxTest, EveryDefectIsAClearErrorNamingTheFile) {
  const std::string p = temp_path("bad.idx");
  auto expect_error = [&](const std::vector<unsigned char>& bytes, const std::vector<std::string>& parts) {
    write_plain(p, bytes);
    std::vector<std::string> all = parts;
    all.push_back(p);
    expect_throw_with<IoError>([&] { io::read_idx(p); }, all);
  };
  expect_error({}, {"truncated", "no IDX header"});
  expect_error({1, 0, 8, 1}, {"not an IDX file"});
  expect_error(idx_bytes({4}, 4, 0x0D), {"type 0x0D", "not supported"});
  expect_error(idx_bytes({}, 0), {"0 dimensions"});
  expect_error({0, 0, 8, 2, 0, 0, 0, 3}, {"truncated header", "1 of 2 dimensions"});
  expect_error(idx_bytes({2, 0}, 0), {"dimension 1 is zero"});
  expect_error(idx_bytes({10, 10}, 99), {"truncated", "promises 100", "holds 99"});
  expect_error(idx_bytes({10}, 11), {"more data than"});
  expect_error(idx_bytes({60000, 60000, 60000}, 0), {"more than"});
  expect_throw_with<IoError>([] { io::read_idx("/nonexistent/x.idx"); }, {"/nonexistent/x.idx", "cannot open"});

  // A gzip stream cut short, and one with damaged compressed bytes.
  const auto good = idx_bytes({64, 64}, 4096);
  write_gz(p, good);
  std::ifstream gz_in(p, std::ios::binary);
  std::vector<char> gz((std::istreambuf_iterator<char>(gz_in)), {});
  gz_in.close();
  std::ofstream(p, std::ios::binary).write(gz.data(), std::streamsize(gz.size() / 2));
  expect_throw_with<IoError>([&] { io::read_idx(p); }, {p});
  for (std::size_t i = 20; i < gz.size() - 8; i += 7) gz[i] = char(gz[i] ^ 0x5A);
  std::ofstream(p, std::ios::binary).write(gz.data(), std::streamsize(gz.size()));
  expect_throw_with<IoError>([&] { io::read_idx(p); }, {p});
}

// A 16-byte header promising 5,000,000 × 28 × 28 bytes (3.7 GB) and no data: plain, the file's size
// says so before anything is allocated; compressed, the buffer grows only with the data that arrives.
// Either way a "truncated" error, and the process never holds anything near 3.7 GB.
TEST(IdxTest, AHeaderPromisingMoreThanTheFileHoldsAllocatesNothingForIt) {
  const auto header = idx_bytes({5000000, 28, 28}, 0);
  write_plain(temp_path("huge.idx"), header);
  write_gz(temp_path("huge.idx.gz"), header);
  const auto some = idx_bytes({5000000, 28, 28}, 3 << 20);
  write_gz(temp_path("some.idx.gz"), some);
  expect_throw_with<IoError>([] { io::read_idx(temp_path("huge.idx")); }, {"truncated", "promises 3920000000", "holds 0"});
  expect_throw_with<IoError>([] { io::read_idx(temp_path("huge.idx.gz")); }, {"truncated", "holds 0"});
  expect_throw_with<IoError>([] { io::read_idx(temp_path("some.idx.gz")); }, {"truncated", "holds 3145728"});
  struct rusage usage;
  ASSERT_EQ(getrusage(RUSAGE_SELF, &usage), 0);
  EXPECT_LT(usage.ru_maxrss, 512L << 10) << "peak resident KiB";  // 3.7 GB were allocated and zeroed before
}

// zlib treats a gzip stream whose 8-byte trailer (CRC and length) is cut off as a soft end of file:
// the data are all there, but the file is truncated, and says so.
TEST(IdxTest, AGzipFileWithoutItsTrailerIsTruncated) {
  const std::string p = temp_path("cut.idx.gz");
  write_gz(p, idx_bytes({16, 16}, 256));
  std::ifstream in(p, std::ios::binary);
  std::vector<char> gz((std::istreambuf_iterator<char>(in)), {});
  in.close();
  for (std::size_t cut : {1, 4, 8}) {
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(gz.data(), std::streamsize(gz.size() - cut));
    expect_throw_with<IoError>([&] { io::read_idx(p); }, {p, "truncated"});
  }
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(gz.data(), std::streamsize(gz.size()));
  EXPECT_EQ(io::read_idx(p).data.size(), 256u);
}

}  // namespace
}  // namespace parcnn::test
