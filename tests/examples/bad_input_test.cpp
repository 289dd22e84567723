// What parcnn and its programs do with bad input, tried as a careless or hostile user would: every case
// must end in a clear error that contains its expected words (never a crash, a hang or a silent wrong
// result). The cases are also the catalogue in docs/bad-input.md: this test renders them, with the
// messages as they come out, and fails when the file differs; with PARCNN_WRITE_CATALOGUE=FILE in the
// environment it writes the catalogue to FILE instead.
#include <parcnn/parcnn.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

struct Case {
  std::string area, input, expected;  // expected: words the message must contain
  std::function<std::string()> run;   // the message it gives: what() or the program's output and status
};

// The message of the exception f throws; "no error" when f returns.
template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

const std::string binaries = PARCNN_BINARY_DIR;

// Runs a program of the build (bench/ or examples/) with `args`; what it writes to stderr, then "(exit N)".
std::string program(const std::string& name, const std::string& args) {
  const std::string path = binaries + "/" + name;
  std::FILE* p = ::popen((path + " " + args + " 2>&1 >/dev/null").c_str(), "r");
  if (p == nullptr) return "cannot run " + path;
  std::string out;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, p)) > 0;) out.append(buffer, n);
  const int status = ::pclose(p);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out + " (exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) + ")";
}

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// An IDX file of unsigned bytes: the header for `dims`, then `data`.
std::vector<unsigned char> idx(const std::vector<std::uint32_t>& dims, const std::vector<unsigned char>& data) {
  std::vector<unsigned char> b{0, 0, 8, static_cast<unsigned char>(dims.size())};
  for (std::uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

// A Fashion-MNIST directory of `n` images (plain IDX files) whose labels are `labels`.
std::string data_dir(const std::string& name, const std::vector<unsigned char>& labels) {
  const std::string dir = temp_path(name);
  std::filesystem::create_directories(dir);
  const std::uint32_t n = std::uint32_t(labels.size());
  std::vector<unsigned char> pixels(std::size_t(n) * 784);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(i * 31);
  for (const char* set : {"train", "t10k"}) {
    write_bytes(dir + "/" + set + "-images-idx3-ubyte", idx({n, 28, 28}, pixels));
    write_bytes(dir + "/" + set + "-labels-idx1-ubyte", idx({n}, labels));
  }
  return dir;
}

std::string letter_cnn_weights(std::size_t classes) {
  const std::string path = temp_path("letter_cnn_" + std::to_string(classes) + ".safetensors");
  Sequential<float> m = models::letter_cnn<float>(classes, 1);
  io::save_safetensors(path, m);
  return path;
}

// A safetensors file in the temporary directory with the given header entries (for load_fc).
std::string safetensors_with(const std::string& name, const std::string& entries, std::size_t data_bytes) {
  write_safetensors(temp_path(name), entries, data_bytes);
  return temp_path(name);
}
const auto entry = safetensors_entry;

// Loads `path` into a Sequential holding Linear(2, 1) as "fc"; the message it gives.
std::string load_fc(const std::string& path) {
  return message_of([&] {
    Sequential<float> m;
    m.add("fc", Linear<float>(2, 1));
    io::load_safetensors(path, m);
  });
}

std::vector<Case> cases() {
  const std::size_t big = std::size_t(1) << 32;
  std::vector<Case> c;
  // --- the library ---
  c.push_back({"tensor", "`Tensor(Shape{2^32, 2^32})`", "more than 2^60 elements",
               [=] { return message_of([&] { Tensor<float> t(Shape{big, big}); }); }});
  c.push_back({"layer", "`Conv2d(1, 1, Size2d(2^32))`", "2^60",
               [=] { return message_of([&] { Conv2d<float>(1, 1, Size2d(big)); }); }});
  c.push_back({"layer", "`Linear(2^32, 2^32)`", "2^60", [=] { return message_of([&] { Linear<float>(big, big); }); }});
  c.push_back({"layer", "`Conv2d(1, 1, 3, 1, /*padding=*/2^63)`", "padding",
               [] { return message_of([] { Conv2d<float>(1, 1, 3, 1, Size2d(std::size_t(1) << 63)); }); }});
  c.push_back({"layer", "`Conv2d(1, 1, 3, 1, /*padding=*/2^40)` on `[1, 1, 5, 5]`", "more than 2^60", [] {
                 return message_of([] { Conv2d<float>(1, 1, 3, 1, Size2d(std::size_t(1) << 40)).output_shape(Shape{1, 1, 5, 5}); });
               }});
  c.push_back({"layer", "`Conv2d(6, 4, 3, Conv2dOptions().groups(4))`", "divide both channel counts",
               [] { return message_of([] { Conv2d<float>(6, 4, 3, Conv2dOptions().groups(4)); }); }});
  c.push_back({"layer", "`fold_batch_norm` of `Conv2d(3, 4, 3)` then `BatchNorm2d(5)`", "cannot follow", [] {
                 return message_of([] {
                   Sequential<float> m;
                   m.add("conv", Conv2d<float>(3, 4, 3)).add("bn", BatchNorm2d<float>(5));
                   fold_batch_norm(m);
                 });
               }});
  c.push_back({"layer", "`MaxPool2d(2, 2, /*padding=*/2^63)`", "padding",
               [] { return message_of([] { MaxPool2d<float>(2, 2, Size2d(std::size_t(1) << 63)); }); }});
  c.push_back({"layer", "`Conv2d(32, 64, 3)` on `[8, 16, 13, 13]`", "got [8, 16, 13, 13]",
               [] { return message_of([] { Conv2d<float>(32, 64, 3).forward(Tensor<float>(Shape{8, 16, 13, 13})); }); }});
  c.push_back({"layer", "`Linear` forward whose output overlaps its input", "overlaps the input", [] {
                 return message_of([] {
                   Tensor<float> x(Shape{3, 4});
                   Workspace<float> ws;
                   Linear<float>(4, 4).forward(x.view(), x.view(), {}, ws);
                 });
               }});
  c.push_back({"strategy", "`Strategy::parse(\"tiled:0x4\")`", "tiled",
               [] { return message_of([] { Strategy::parse("tiled:0x4"); }); }});
  c.push_back({"threads", "`Executor(0)`", "at least 1", [] { return message_of([] { Executor t(0); }); }});
  c.push_back({"train", "`Trainer` on a model that does not end in `LogSoftmax`", "NLL loss needs a model ending in LogSoftmax", [] {
                 return message_of([] {
                   Sequential<float> m = small_cnn(1, 2, 8, 3);
                   Parameters<float> p(m);
                   SGD<float> sgd(p.all(), SgdOptions{0.1});
                   Trainer<float> t(m, p, sgd);
                 });
               }});
  c.push_back({"train", "`Trainer` given the `Parameters` of another model of the same layout", "another model", [] {
                 return message_of([] {
                   Sequential<float> a = models::letter_cnn<float>(4, 1), b = models::letter_cnn<float>(4, 2);
                   Parameters<float> pb(b);
                   SGD<float> sgd(pb.all(), SgdOptions{0.1});
                   Trainer<float> t(a, pb, sgd);
                 });
               }});
  c.push_back({"train", "`predictions()` on a rank-1 tensor", "expected scores [N, C]",
               [] { return message_of([] { predictions<float>(Tensor<float>(Shape{6})); }); }});
  c.push_back({"train", "`nll_loss` with target 7 for 4 classes", "not a class", [] {
                 return message_of([] { nll_loss<float>(Tensor<float>(Shape{1, 4}), std::vector<std::size_t>{7}); });
               }});
  c.push_back({"safetensors", "two tensors whose `data_offsets` overlap", "overlaps", [] {
                 return load_fc(safetensors_with("overlap.safetensors",
                                                 entry("fc.weight", "[1, 2]", 0, 8) + ", " + entry("fc.bias", "[1]", 4, 8), 8));
               }});
  c.push_back({"safetensors", "a tensor named twice", "twice", [] {
                 return load_fc(safetensors_with("twice.safetensors",
                                                 entry("fc.weight", "[1, 2]", 0, 8) + ", " + entry("fc.bias", "[1]", 8, 12) +
                                                     ", " + entry("fc.bias", "[1]", 8, 12),
                                                 12));
               }});
  c.push_back({"safetensors", "bytes after the last tensor", "after the last tensor", [] {
                 return load_fc(safetensors_with("trailing.safetensors",
                                                 entry("fc.weight", "[1, 2]", 0, 8) + ", " + entry("fc.bias", "[1]", 8, 12), 16));
               }});
  c.push_back({"safetensors", "a shape `[2^32, 2^32, 32, 9]`", "more values than", [] {
                 return load_fc(safetensors_with("huge.safetensors", entry("fc.weight", "[4294967296, 4294967296, 32, 9]", 0, 8), 8));
               }});
  c.push_back({"idx", "a 16-byte header declaring 5,000,000 × 28 × 28 and no data", "truncated", [] {
                 write_bytes(temp_path("huge.idx"), idx({5000000, 28, 28}, {}));
                 return message_of([] { io::read_idx(temp_path("huge.idx")); });
               }});
  c.push_back({"idx", "a gzip IDX file without its 8-byte trailer", "gzip stream ends", [] {
                 const std::string p = temp_path("cut.idx.gz");
                 const std::vector<unsigned char> raw = idx({4, 4}, std::vector<unsigned char>(16, 3));
                 gzFile f = gzopen(p.c_str(), "wb");
                 gzwrite(f, raw.data(), unsigned(raw.size()));
                 gzclose(f);
                 std::ifstream in(p, std::ios::binary);
                 std::vector<unsigned char> gz((std::istreambuf_iterator<char>(in)), {});
                 gz.resize(gz.size() - 8);
                 write_bytes(p, gz);
                 return message_of([&] { io::read_idx(p); });
               }});
  // --- the programs ---
  c.push_back({"classify", "a labels file with label 200 for the 10-class model", "label 200", [] {
                 return program("examples/classify", "--weights " + letter_cnn_weights(10) + " --data " +
                                                         data_dir("label200", {1, 2, 3, 200, 4}));
               }});
  c.push_back({"classify", "a labels file with label 10 for the 10-class model", "label 10", [] {
                 return program("examples/classify",
                                "--weights " + letter_cnn_weights(10) + " --data " + data_dir("label10", {9, 10}));
               }});
  c.push_back({"parcnn_run", "`--output /nonexistent/dir/y.f32`", "does not exist", [] {
                 return program("bench/parcnn_run", "--weights " + letter_cnn_weights(26) + " --output /nonexistent/dir/y.f32");
               }});
  c.push_back({"parcnn_run", "`--output /dev/full`", "write failed", [] {
                 return program("bench/parcnn_run",
                                "--weights " + letter_cnn_weights(26) + " --batch 1 --repeat 1 --output /dev/full");
               }});
  c.push_back({"parcnn_run", "`--machine-profile` with an unknown key", "unknown key 'speed'", [] {
                 const std::string path = temp_path("bad.machine-profile");
                 std::ofstream(path) << "fork_join_ns = 1000\nspeed = 3\n";
                 return program("bench/parcnn_run", "--weights " + letter_cnn_weights(26) + " --machine-profile " + path);
               }});
  c.push_back({"parcnn_run", "`--input /nonexistent`", "does not exist", [] {
                 return program("bench/parcnn_run", "--weights " + letter_cnn_weights(26) + " --input /nonexistent");
               }});
  c.push_back({"parcnn_run", "`--input` of 12 bytes for a batch of 1", "needs exactly 3136", [] {
                 write_bytes(temp_path("short.f32"), std::vector<unsigned char>(12, 0));
                 return program("bench/parcnn_run",
                                "--weights " + letter_cnn_weights(26) + " --batch 1 --input " + temp_path("short.f32"));
               }});
  c.push_back({"train_fashion_mnist", "`--lr inf`", "not a finite number",
               [] { return program("examples/train_fashion_mnist", "--lr inf"); }});
  c.push_back({"train_fashion_mnist", "`--lr 1e30` (the loss overflows)", "training diverged", [] {
                 return program("examples/train_fashion_mnist",
                                "--lr 1e30 --epochs 1 --batch 4 --threads 1 --data " + data_dir("diverge", {0, 1, 2, 3, 4, 5, 6, 7}));
               }});
  c.push_back({"train_fashion_mnist", "`--min-accuracy nan`", "not a finite number",
               [] { return program("examples/train_fashion_mnist", "--min-accuracy nan"); }});
  c.push_back({"train_fashion_mnist", "`--batch 1e30`", "not in range",
               [] { return program("examples/train_fashion_mnist", "--batch 1e30"); }});
  c.push_back({"train_fashion_mnist", "`--limit 1e30`", "--limit",
               [] { return program("examples/train_fashion_mnist", "--limit 1e30"); }});
  c.push_back({"strategy_demo", "`--strategies auto,bogus`", "unknown strategy 'bogus'",
               [] { return program("examples/strategy_demo", "--strategies auto,bogus"); }});
  c.push_back({"hardware_report", "`--batch 0`", "not in range", [] { return program("examples/hardware_report", "--batch 0"); }});
  c.push_back({"hardware_report", "`--json /nonexistent/dir/r.json`", "does not exist",
               [] { return program("examples/hardware_report", "--json /nonexistent/dir/r.json"); }});
  c.push_back({"pipeline_stream", "`--cuts 99` (past the letter CNN's 16 layers)", "cuts must rise within [1, 16)",
               [] { return program("bench/pipeline_stream", "--cuts 99 --requests 2 --rounds 1"); }});
  c.push_back({"pipeline_stream", "`--stages 12` (more than the plan's stages)", "12 stages for a model whose plan has",
               [] { return program("bench/pipeline_stream", "--stages 12 --requests 2 --rounds 1"); }});
  c.push_back({"requests_mix", "`--requests 0`", "not in range", [] { return program("bench/requests_mix", "--requests 0"); }});
  return c;
}

// `text` with this process's temporary directory written as <tmp>, the build's as <build>, table-safe.
std::string tidy(std::string text) {
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (std::size_t at; !from.empty() && (at = text.find(from)) != std::string::npos;) text.replace(at, from.size(), to);
  };
  replace_all(std::filesystem::path(temp_path("x")).parent_path().string(), "<tmp>");
  replace_all(binaries, "<build>");
  replace_all("\nRun with --help for more information.", "");
  replace_all("|", "\\|");
  replace_all("\n", "<br>");
  return text;
}

std::string table(const std::vector<Case>& all, const std::vector<std::string>& messages) {
  std::ostringstream out;
  out << "# What bad input gets\n\n"
         "Each row is a case of `tests/examples/bad_input_test.cpp`, run as it is written there, with the\n"
         "message it gives (the programs' on stderr, with their exit status). The test fails when this file\n"
         "differs from what the cases give; `PARCNN_WRITE_CATALOGUE=docs/bad-input.md\n"
         "build/tests/examples_tests` renders it anew.\n\n"
         "| area | input | what it gets |\n| --- | --- | --- |\n";
  for (std::size_t i = 0; i < all.size(); ++i)
    out << "| " << all[i].area << " | " << all[i].input << " | " << tidy(messages[i]) << " |\n";
  return out.str();
}

TEST(BadInputTest, EveryCaseIsAClearErrorAndTheCatalogueIsCurrent) {
  const std::vector<Case> all = cases();
  std::vector<std::string> messages;
  for (const Case& c : all) {
    messages.push_back(c.run());
    EXPECT_NE(messages.back().find(c.expected), std::string::npos)
        << c.area << ": " << c.input << "\n  gives: " << messages.back() << "\n  expected it to contain: " << c.expected;
    EXPECT_EQ(messages.back().find("(exit 0)"), std::string::npos) << c.input << " exits 0";
  }
  const std::string rendered = table(all, messages);
  if (const char* path = std::getenv("PARCNN_WRITE_CATALOGUE")) {
    std::ofstream(path) << rendered;
    return;
  }
  std::ifstream in(PARCNN_SOURCE_DIR "/docs/bad-input.md");
  const std::string committed((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(committed, rendered) << "docs/bad-input.md is not what the cases give; render it with "
                                    "PARCNN_WRITE_CATALOGUE=docs/bad-input.md build/tests/examples_tests";
}

}  // namespace
}  // namespace parcnn::test
