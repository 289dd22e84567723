// parcnn's layers against PyTorch's: forward, input and parameter gradients, and running statistics
// after a training pass, from the values tests/interop/make_layer_fixtures.py wrote with PyTorch in
// float64 (tests/interop/layer_fixtures.safetensors, or the file PARCNN_LAYER_FIXTURES names).
#include <cstdlib>

#include <parcnn/io/safetensors.hpp>

#include "support/test_support.hpp"

namespace parcnn::test {
namespace {

using Fixtures = std::map<std::string, Tensor<double>>;

const Fixtures& fixtures() {
  static const Fixtures f = [] {
    const char* path = std::getenv("PARCNN_LAYER_FIXTURES");
    return io::read_safetensors<double>(path ? path : PARCNN_SOURCE_DIR "/tests/interop/layer_fixtures.safetensors");
  }();
  return f;
}

Sequential<double> residual_body(std::size_t c_in, std::size_t c_out, std::size_t stride) {
  Sequential<double> b;
  b.add("0", Conv2d<double>(c_in, c_out, 3, stride, 1, false)).add("1", BatchNorm2d<double>(c_out));
  b.add("2", ReLU<double>()).add("3", Conv2d<double>(c_out, c_out, 3, 1, 1, false)).add("4", BatchNorm2d<double>(c_out));
  return b;
}

struct Case {
  std::string name;
  std::function<std::unique_ptr<Layer<double>>()> make;
  bool training;
  // PyTorch's name of one of the layer's parameters or buffers.
  std::function<std::string(const std::string&)> torch_name = [](const std::string& n) { return n; };
};

std::vector<Case> cases() {
  using P = PoolRounding;
  return {
      {"relu", [] { return std::make_unique<ReLU<double>>(); }, false},
      {"leaky_relu", [] { return std::make_unique<LeakyReLU<double>>(0.1); }, false},
      {"sigmoid", [] { return std::make_unique<Sigmoid<double>>(); }, false},
      {"tanh", [] { return std::make_unique<Tanh<double>>(); }, false},
      {"softmax", [] { return std::make_unique<Softmax<double>>(); }, false},
      {"avg_pool", [] { return std::make_unique<AvgPool2d<double>>(2); }, false},
      {"avg_pool_padded", [] { return std::make_unique<AvgPool2d<double>>(3, 2, 1, P::ceil, false); }, false},
      {"adaptive_avg_pool", [] { return std::make_unique<AdaptiveAvgPool2d<double>>(Size2d{3, 2}); }, false},
      {"global_avg_pool", [] { return std::make_unique<AdaptiveAvgPool2d<double>>(1); }, false},
      {"batch_norm_train", [] { return std::make_unique<BatchNorm2d<double>>(3); }, true},
      {"batch_norm_eval", [] { return std::make_unique<BatchNorm2d<double>>(3); }, false},
      {"residual_train",
       [] {
         Sequential<double> shortcut;
         shortcut.add("0", Conv2d<double>(3, 4, 1, 2, 0, false)).add("1", BatchNorm2d<double>(4));
         return std::make_unique<Residual<double>>(residual_body(3, 4, 2), shortcut);
       },
       true, [](const std::string& n) { return n.rfind("shortcut.", 0) == 0 ? n : "body." + n; }},
      {"conv_grouped", [] { return std::make_unique<Conv2d<double>>(6, 4, 3, Conv2dOptions().padding(1).groups(2)); },
       false},
      {"conv_depthwise",
       [] { return std::make_unique<Conv2d<double>>(4, 8, 3, Conv2dOptions().stride(2).padding(1).groups(4).bias(false)); },
       false},
      {"conv_dilated",
       [] {
         return std::make_unique<Conv2d<double>>(3, 5, Size2d{3, 2},
                                                 Conv2dOptions().stride({1, 2}).padding({2, 1}).dilation({2, 3}));
       },
       false},
      {"conv_grouped_dilated",
       [] { return std::make_unique<Conv2d<double>>(4, 6, 3, Conv2dOptions().padding(2).dilation(2).groups(2)); },
       false},
  };
}

const Tensor<double>& fixture(const std::string& name) {
  const auto it = fixtures().find(name);
  if (it == fixtures().end()) throw std::out_of_range("no fixture " + name);
  return it->second;
}

TEST(LayerParityTest, ForwardAndBackwardMatchPyTorch) {
  constexpr double tol = 1e-10;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    std::unique_ptr<Layer<double>> layer = c.make();
    layer->train(c.training);
    for (const NamedParameter<double>& p : layer->parameters()) {
      const Tensor<double>& v = fixture(c.name + ".param." + c.torch_name(p.name));
      ASSERT_EQ(v.shape(), p.tensor->shape()) << p.name;
      *p.tensor = v;
    }
    for (const NamedParameter<double>& b : layer->buffers())
      if (b.name.find("num_batches_tracked") == std::string::npos) *b.tensor = fixture(c.name + ".buffer_before." + c.torch_name(b.name));
    const Tensor<double>& x = fixture(c.name + ".x");
    const std::vector<Tensor<double>> grads = run_backward<double>(*layer, x, fixture(c.name + ".dy"), 2);
    Tensor<double> y(layer->output_shape(x.shape()));
    // run_backward ran forward_for_backward once; the running statistics are compared after that one.
    for (const NamedParameter<double>& b : layer->buffers()) {
      if (b.name.find("num_batches_tracked") != std::string::npos) continue;
      EXPECT_TRUE(near<double>(*b.tensor, fixture(c.name + ".buffer." + c.torch_name(b.name)), tol)) << b.name;
    }
    std::unique_ptr<Layer<double>> again = c.make();  // the output, from the same state as PyTorch's
    again->train(c.training);
    std::vector<NamedParameter<double>> from = layer->parameters(), to = again->parameters();
    for (std::size_t i = 0; i < from.size(); ++i) *to[i].tensor = *from[i].tensor;
    for (const NamedParameter<double>& b : again->buffers())
      if (b.name.find("num_batches_tracked") == std::string::npos) *b.tensor = fixture(c.name + ".buffer_before." + c.torch_name(b.name));
    Workspace<double> ws;
    again->forward_for_backward(x, y.view(), strategy::Serial{}, ws);
    EXPECT_TRUE(near<double>(y, fixture(c.name + ".y"), tol)) << "output";
    EXPECT_TRUE(near<double>(grads[0], fixture(c.name + ".dx"), tol)) << "input gradient";
    for (std::size_t i = 0; i < from.size(); ++i)
      EXPECT_TRUE(near<double>(grads[i + 1], fixture(c.name + ".grad." + c.torch_name(from[i].name)), tol)) << from[i].name;
  }
}

}  // namespace
}  // namespace parcnn::test
