// parcnn with its io component: weights saved and loaded as safetensors, a plan saved and loaded as
// JSON; exits non-zero if anything is off.
#include <parcnn/parcnn.hpp>

#include <cstdio>
#include <filesystem>

int main() {
  auto model = parcnn::models::letter_cnn<float>(26, /*seed=*/1);
  auto copy = parcnn::models::letter_cnn<float>(26, /*seed=*/7);
  const std::string dir = std::filesystem::temp_directory_path().string();
  parcnn::io::save_safetensors(dir + "/parcnn_consumer.safetensors", model);
  parcnn::io::load_safetensors(dir + "/parcnn_consumer.safetensors", copy);

  parcnn::Tensor<float> images(parcnn::Shape{4, 1, 28, 28});
  parcnn::fill_uniform<float>(images, 0.0, 1.0, /*seed=*/2);
  parcnn::Executor two(2);
  const parcnn::Plan plan = model.plan(images.shape(), parcnn::strategy::Auto{}, two);
  parcnn::io::save_plan(plan, dir + "/parcnn_consumer.plan.json");
  const parcnn::Plan loaded = parcnn::io::load_plan(dir + "/parcnn_consumer.plan.json", copy);

  parcnn::Workspace<float> ws;
  const parcnn::Tensor<float> y(copy.forward(images, loaded, ws, two));
  const bool ok = parcnn::bitwise_equal<float>(y, model.forward(images, parcnn::strategy::Serial{}));
  std::printf("parcnn %s consumer with io: %s\n", parcnn::version, ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
