// parcnn with its mpi component, run on 2 ranks: two data-parallel steps of the letter CNN give every
// rank the weights one process trains, bit for bit; exits non-zero (on every rank) if anything is off.
#include <mpi.h>

#include <parcnn/parcnn.hpp>

#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  constexpr std::size_t batch = 12;
  parcnn::Tensor<float> images(parcnn::Shape{batch, 1, 28, 28});
  parcnn::fill_uniform<float>(images, 0.0, 1.0, /*seed=*/2);
  std::vector<std::size_t> labels;
  for (std::size_t n = 0; n < batch; ++n) labels.push_back(n % 10);
  const parcnn::TrainerOptions options{parcnn::strategy::Auto{}, /*chunk_images=*/3};

  auto one = parcnn::models::letter_cnn<float>(10, /*seed=*/1);
  parcnn::Parameters<float> one_params(one);
  parcnn::SGD<float> one_sgd(one_params.all(), parcnn::SgdOptions{0.05, 0.9});
  parcnn::Trainer<float> single(one, one_params, one_sgd, options);

  auto model = parcnn::models::letter_cnn<float>(10, /*seed=*/1);
  parcnn::Parameters<float> params(model);
  parcnn::SGD<float> sgd(params.all(), parcnn::SgdOptions{0.05, 0.9});
  parcnn::mpi::DistributedTrainer<float> trainer(model, params, sgd, options);
  const parcnn::Range mine = trainer.shard(batch);
  const std::vector<std::size_t> my_labels(labels.begin() + std::ptrdiff_t(mine.begin), labels.begin() + std::ptrdiff_t(mine.end));
  for (int step = 0; step < 2; ++step) {
    single.step(images, labels);
    trainer.step(parcnn::TensorView<const float>(images.view()).batch(mine.begin, mine.end), my_labels, batch);
  }
  int ok = 1;
  for (std::size_t p = 0; p < params.size(); ++p)
    ok &= parcnn::bitwise_equal<float>(params[p].value->view(), one_params[p].value->view());
  int all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (trainer.rank() == 0)
    std::printf("parcnn %s mpi consumer on %d ranks: %s\n", parcnn::version, trainer.ranks(), all_ok ? "ok" : "FAILED");
  MPI_Finalize();
  return all_ok ? 0 : 1;
}
