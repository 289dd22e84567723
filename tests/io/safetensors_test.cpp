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
  header.replace(at, 3, "C64");
  std::vector<char> retyped(bytes.begin(), bytes.begin() + 8);
  retyped.insert(retyped.end(), header.begin(), header.end());
  retyped.insert(retyped.end(), bytes.begin() + 8 + std::ptrdiff_t(n), bytes.end());
  write_all(bad, retyped);
  expect_throw_with<IoError>([&] { io::load_safetensors(bad, m); }, {"dtype C64, which parcnn does not read"});
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

// A file's tensors as such: each dtype converted (F16 and BF16 with their subnormals and infinities, the
// integers, booleans), a scalar as [1], the metadata; a rank above 4 or an unknown dtype is an error.
TEST(SafetensorsTest, ReadsAnyFilesTensorsConvertingEachDtype) {
  const std::string p = temp_path("any.safetensors");
  struct Raw {
    std::string name, dtype, shape;
    std::vector<unsigned char> bytes;
  };
  const std::vector<Raw> raws{
      {"half", "F16", "[4]", {0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x7C}},  // 1, -2, 2^-24, inf
      {"brain", "BF16", "[2]", {0x80, 0x3F, 0x49, 0x40}},                          // 1, 3.140625
      {"count", "I64", "[]", {0x05, 0, 0, 0, 0, 0, 0, 0}},
      {"flags", "BOOL", "[3]", {0, 1, 2}},
      {"bytes", "U8", "[1, 2]", {7, 255}},
      {"ints", "I32", "[1]", {0xFE, 0xFF, 0xFF, 0xFF}},  // -2
  };
  std::string entries, data;
  for (const Raw& r : raws) {
    entries += std::string(entries.empty() ? "" : ", ") + "\"" + r.name + "\": {\"dtype\": \"" + r.dtype + "\", \"shape\": " +
               r.shape + ", \"data_offsets\": [" + std::to_string(data.size()) + ", " +
               std::to_string(data.size() + r.bytes.size()) + "]}";
    data.append(r.bytes.begin(), r.bytes.end());
  }
  entries += ", \"__metadata__\": {\"format\": \"pt\"}";
  write_safetensors(p, entries, 0);
  {
    std::ofstream(p, std::ios::binary | std::ios::app).write(data.data(), std::streamsize(data.size()));
  }
  std::map<std::string, std::string> metadata;
  const std::map<std::string, Tensor<double>> t = io::read_safetensors<double>(p, &metadata);
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(metadata.at("format"), "pt");
  EXPECT_EQ(io::read_safetensors_metadata(p), metadata);
  EXPECT_EQ(t.at("half").shape(), Shape{4});
  EXPECT_EQ(t.at("half").data()[0], 1.0);
  EXPECT_EQ(t.at("half").data()[1], -2.0);
  EXPECT_EQ(t.at("half").data()[2], std::ldexp(1.0, -24));
  EXPECT_EQ(t.at("half").data()[3], INFINITY);
  EXPECT_EQ(t.at("brain").data()[1], 3.140625);
  EXPECT_EQ(t.at("count").shape(), Shape{1});
  EXPECT_EQ(t.at("count").data()[0], 5.0);
  EXPECT_EQ(t.at("flags").data()[2], 1.0);
  EXPECT_EQ(t.at("bytes").shape(), (Shape{1, 2}));
  EXPECT_EQ(t.at("bytes").data()[1], 255.0);
  EXPECT_EQ(t.at("ints").data()[0], -2.0);

  write_safetensors(p, "\"big\": {\"dtype\": \"F32\", \"shape\": [1, 1, 1, 1, 1], \"data_offsets\": [0, 4]}", 4);
  expect_throw_with<IoError>([&] { io::read_safetensors<float>(p); }, {"'big'", "rank 5", "rank 1 to 4"});
  write_safetensors(p, "\"c\": {\"dtype\": \"C64\", \"shape\": [1], \"data_offsets\": [0, 8]}", 8);
  expect_throw_with<IoError>([&] { io::read_safetensors<float>(p); }, {"'c'", "dtype C64"});
}

// A model's state holds its buffers (BatchNorm's running statistics) with its parameters.
TEST(SafetensorsTest, SavesAndLoadsBuffersWithTheParameters) {
  Sequential<float> a, b;
  a.add("conv", Conv2d<float>(1, 2, 3)).add("bn", BatchNorm2d<float>(2));
  b.add("conv", Conv2d<float>(1, 2, 3)).add("bn", BatchNorm2d<float>(2));
  fill_uniform<float>(a.get<BatchNorm2d<float>>("bn").running_var(), 1, 2, 3);
  const std::string p = temp_path("bn.safetensors");
  io::save_safetensors(p, a);
  const auto tensors = io::read_safetensors<float>(p);
  EXPECT_EQ(tensors.count("bn.running_var"), 1u);
  EXPECT_EQ(tensors.at("bn.num_batches_tracked").shape(), Shape{1});
  io::load_safetensors(p, b);
  EXPECT_TRUE(bitwise<float>(b.get<BatchNorm2d<float>>("bn").running_var(), a.get<BatchNorm2d<float>>("bn").running_var()));
  EXPECT_TRUE(bitwise<float>(b.get<Conv2d<float>>("conv").weight(), a.get<Conv2d<float>>("conv").weight()));
}

// As load_state_dict: non-strict loads what matches and reports the rest; a mapping renames (a PyTorch
// nn.Sequential's numbers); a shape that does not fit is an error either way.
TEST(SafetensorsTest, LoadsThroughANameMappingStrictlyOrNot) {
  Sequential<float> torch_like, m;
  torch_like.add("0", Conv2d<float>(1, 2, 3)).add("1", ReLU<float>()).add("2", Flatten<float>()).add("3", Linear<float>(8, 3));
  m.add("conv", Conv2d<float>(1, 2, 3)).add("relu", ReLU<float>()).add("flat", Flatten<float>()).add("fc", Linear<float>(8, 3));
  const std::string p = temp_path("numbered.safetensors");
  io::save_safetensors(p, torch_like);
  expect_throw_with<IoError>([&] { io::load_safetensors(p, m); }, {"'0.weight' is not a parameter", "'conv.weight' is missing"});
  io::LoadOptions numbered;
  numbered.rename = io::sequential_numbering(m);
  const io::LoadReport all = io::load_safetensors(p, m, numbered);
  EXPECT_EQ(all.loaded, (std::vector<std::string>{"conv.weight", "conv.bias", "fc.weight", "fc.bias"}));
  EXPECT_TRUE(all.missing.empty() && all.unexpected.empty());
  EXPECT_TRUE(bitwise<float>(m.get<Linear<float>>("fc").weight(), torch_like.get<Linear<float>>("3").weight()));

  Sequential<float> bigger = m;
  bigger.add("head", Linear<float>(3, 2));
  io::LoadOptions loose = numbered;
  loose.strict = false;
  loose.rename = [&](const std::string& n) { return n.rfind("3.", 0) == 0 ? std::string() : io::sequential_numbering(m)(n); };
  const io::LoadReport some = io::load_safetensors(p, bigger, loose);
  EXPECT_EQ(some.loaded, (std::vector<std::string>{"conv.weight", "conv.bias"}));
  EXPECT_EQ(some.missing, (std::vector<std::string>{"fc.weight", "fc.bias", "head.weight", "head.bias"}));
  EXPECT_EQ(some.unexpected, (std::vector<std::string>{"3.bias", "3.weight"}));

  Sequential<float> narrow;
  narrow.add("conv", Conv2d<float>(1, 3, 3));
  expect_throw_with<IoError>([&] { io::load_safetensors(p, narrow, loose); },
                             {"'0.weight' (the model's 'conv.weight') has shape [2, 1, 3, 3], the model expects [3, 1, 3, 3]"});
}

}  // namespace
}  // namespace parcnn::test
