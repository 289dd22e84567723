// The shortest complete use of parcnn from another project, on the core component alone (no zlib, no
// nlohmann-json); exits non-zero if anything is off.
#include <parcnn/parcnn.hpp>

#if defined(PARCNN_WITH_IO) || defined(NLOHMANN_JSON_VERSION_MAJOR) || defined(ZLIB_VERSION)
#error "parcnn::core brought in the io component"
#endif

#include <cmath>
#include <cstdio>

int main() {
  const auto model = parcnn::models::letter_cnn<float>(26, /*seed=*/1);
  parcnn::Tensor<float> images(parcnn::Shape{4, 1, 28, 28});
  parcnn::fill_uniform<float>(images, 0.0, 1.0, /*seed=*/2);

  const auto log_probs = parcnn::with_threads(2, [&] { return model.forward(images, parcnn::strategy::Batch{}); });
  const auto reference = model.forward(images, parcnn::strategy::Serial{});

  double total = 0;  // each row of probabilities sums to 1
  for (std::size_t c = 0; c < 26; ++c) total += std::exp(double(log_probs(0, c)));
  const bool ok = log_probs.shape() == parcnn::Shape{4, 26} && std::abs(total - 1.0) < 1e-5 &&
                  parcnn::bitwise_equal<float>(log_probs, reference);
  std::printf("parcnn %s consumer: %s\n", parcnn::version, ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
