// safetensors: a round trip, the exact layout, and every mismatch or defect reported.
#include <parcnn/io/safetensors.hpp>

#include <fstream>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

std::vector<char> read_all(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(in)), {});
}
void write_all(const std::string& p, const std::vector<char>& b) {
  std::ofstream(p, std::ios::binary).write(b.data(), std::streamsize(b.size()));
}

TEST(SafetensorsTest, RoundTripRestoresEveryParameterExactly) {
  Sequential<float> a = models::letter_cnn<float>(10, 1), b = models::letter_cnn<float>(10, 2);
  const std::string p = temp_path("model.safetensors");
  io::save_safetensors(p, a, {{"format", "pt"}});
  io::load_safetensors(p, b);
  auto pa = a.parameters(), pb = b.parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(bitwise<float>(*pa[i].tensor, *pb[i].tensor)) << pa[i].name;
  // Data starts 8-byte aligned after a JSON header naming each tensor like a PyTorch state dict.
  const std::vector<char> bytes = read_all(p);
  std::uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  const auto header = nlohmann::json::parse(std::string(bytes.data() + 8, n));
  EXPECT_EQ(header["conv1.weight"]["dtype"], "F32");
  EXPECT_EQ(header["conv1.weight"]["shape"], (std::vector<int>{32, 1, 3, 3}));
  EXPECT_EQ(header["fc3.bias"]["shape"], (std::vector<int>{10}));
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  // Float weights load into a double model too.
  Sequential<double> d = models::letter_cnn<double>(10, 3);
  io::load_safetensors(p, d);
  EXPECT_EQ(double(a.get<Conv2d<float>>("conv2").weight()(1, 2, 0, 1)), d.get<Conv2d<double>>("conv2").weight()(1, 2, 0, 1));
}

TEST(SafetensorsTest, MismatchesAreListedAndLeaveTheModelUnchanged) {
  Sequential<float> ten = models::letter_cnn<float>(10, 1), six = models::letter_cnn<float>(6, 2);
  const std::string p = temp_path("ten.safetensors");
  io::save_safetensors(p, ten);
  const Tensor<float> before(six.get<Conv2d<float>>("conv1").weight().view());
  expect_throw_with<IoError>([&] { io::load_safetensors(p, six); },
                             {"does not match the model", "'fc3.weight' has shape [10, 256], the model expects [6, 256]",
                              "'fc3.bias' has shape [10]"});
  EXPECT_TRUE(bitwise<float>(six.get<Conv2d<float>>("conv1").weight(), before));
  Sequential<float> extra = models::letter_cnn<float>(10, 1);
  extra.add("fc4", Linear<float>(10, 3));
  expect_throw_with<IoError>([&] { io::load_safetensors(p, extra); }, {"'fc4.weight' is missing", "'fc4.bias' is missing"});
}

TEST(SafetensorsTest, CorruptOrTruncatedFilesAreClearErrors) {
  Sequential<float> m = models::letter_cnn<float>(10, 1);
  const std::string good = temp_path("good.safetensors"), bad = temp_path("bad.safetensors");
  io::save_safetensors(good, m);
  const std::vector<char> bytes = read_all(good);
  std::uint64_t n;
  std::memcpy(&n, bytes.data(), 8);

  write_all(bad, std::vector<char>(bytes.begin(), bytes.begin() + 5));
  expect_throw_with<IoError>([&] { io::load_safetensors(bad, m); }, {bad, "truncated"});
  write_all(bad, std::vector<char>(bytes.begin(), bytes.begin() + 8 + std::ptrdiff_t(n) / 2));
  expect_throw_with<IoError>([&] { io::load_safetensors(bad, m); }, {bad, "exceeds the file"});
  write_all(bad, std::vector<char>(bytes.begin(), bytes.end() - 100));  // data cut short
  expect_throw_with<IoError>([&] { io::load_safetensors(bad, m); }, {bad, "fc3.bias", "outside"});
  std::vector<char> garbled = bytes;
  garbled[8] = '[';
  garbled[9] = '{';
  write_all(bad, garbled);
  expect_throw_with<IoError>([&] { io::load_safetensors(bad, m); }, {bad, "not valid JSON"});
  std::string header(bytes.data() + 8, n);
  const auto at = header.find("F32");
  header.replace(at, 3, "I64");
  std::vector<char> retyped(bytes.begin(), bytes.begin() + 8);
  retyped.insert(retyped.end(), header.begin(), header.end());
  retyped.insert(retyped.end(), bytes.begin() + 8 + std::ptrdiff_t(n), bytes.end());
  write_all(bad, retyped);
  expect_throw_with<IoError>([&] { io::load_safetensors(bad, m); }, {"dtype I64, not F32 or F64"});
  expect_throw_with<IoError>([&] { io::load_safetensors(temp_path("none.safetensors"), m); }, {"cannot open"});
}

// The bytes of the tensors must tile the data exactly, each name once, and no shape may overflow:
// overlapping offsets, a duplicate key, a gap, trailing bytes and an absurd shape were read silently.
TEST(SafetensorsTest, OffsetsMustTileTheDataAndNamesBeUnique) {
  Sequential<float> m;
  m.add("fc", Linear<float>(2, 1));  // fc.weight [1, 2]: 8 bytes; fc.bias [1]: 4 bytes
  const std::string p = temp_path("tiling.safetensors");
  const auto entry = safetensors_entry;
  write_safetensors(p, entry("fc.weight", "[1, 2]", 0, 8) + ", " + entry("fc.bias", "[1]", 8, 12), 12);
  io::load_safetensors(p, m);  // the well-formed file
  write_safetensors(p, entry("fc.weight", "[1, 2]", 0, 8) + ", " + entry("fc.bias", "[1]", 4, 8), 8);
  expect_throw_with<IoError>([&] { io::load_safetensors(p, m); }, {p, "overlaps the bytes of another tensor"});
  write_safetensors(p,
                    entry("fc.weight", "[1, 2]", 0, 8) + ", " + entry("fc.bias", "[1]", 8, 12) + ", " +
                        entry("fc.bias", "[1]", 8, 12),
                    12);
  expect_throw_with<IoError>([&] { io::load_safetensors(p, m); }, {p, "names 'fc.bias' twice"});
  write_safetensors(p, entry("fc.weight", "[1, 2]", 0, 8) + ", " + entry("fc.bias", "[1]", 12, 16), 16);
  expect_throw_with<IoError>([&] { io::load_safetensors(p, m); }, {p, "data bytes [8, 12) belong to no tensor"});
  write_safetensors(p, entry("fc.weight", "[1, 2]", 0, 8) + ", " + entry("fc.bias", "[1]", 8, 12), 20);
  expect_throw_with<IoError>([&] { io::load_safetensors(p, m); }, {p, "8 data bytes after the last tensor"});
  write_safetensors(p, entry("fc.weight", "[4294967296, 4294967296, 32, 9]", 0, 8), 8);
  expect_throw_with<IoError>([&] { io::load_safetensors(p, m); }, {p, "'fc.weight'", "more values than"});
}

}  // namespace
}  // namespace parcnn::test
