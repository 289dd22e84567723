// parcnn/train/lr_schedule.hpp — learning-rate schedules, as torch.optim.lr_scheduler's StepLR and
// CosineAnnealingLR (their closed forms):
//
//   SGD<float> sgd(params.all(), SgdOptions{0.1, 0.9});
//   LrScheduler scheduler(sgd, CosineAnnealingLR{epochs});
//   for (epoch ...) { ...train...; scheduler.step(); }
//
// A scheduler remembers each parameter group's learning rate when it is made (the base) and sets every
// group's to schedule.lr(base, epoch) at each step.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "parcnn/core/error.hpp"

namespace parcnn {

// base · gamma^⌊epoch / step_size⌋.
struct StepLR {
  std::size_t step_size = 1;
  double gamma = 0.1;

  double lr(double base, std::size_t epoch) const {
    if (step_size == 0) throw ConfigError("StepLR: step_size must be at least 1");
    return base * std::pow(gamma, double(epoch / step_size));
  }
};

// eta_min + (base − eta_min) · (1 + cos(π · epoch / t_max)) / 2, and eta_min from epoch t_max on.
struct CosineAnnealingLR {
  std::size_t t_max = 1;
  double eta_min = 0;

  double lr(double base, std::size_t epoch) const {
    if (t_max == 0) throw ConfigError("CosineAnnealingLR: t_max must be at least 1");
    if (epoch >= t_max) return eta_min;
    const double pi = 3.14159265358979323846;
    return eta_min + (base - eta_min) * (1 + std::cos(pi * double(epoch) / double(t_max))) / 2;
  }
};

// Sets the learning rates of an optimizer's groups (SGD, Adam: group(i).options.lr) by a schedule.
template <class Optimizer, class Schedule>
class LrScheduler {
 public:
  // The optimizer's current learning rates are the bases; epoch 0's rates are set at once.
  LrScheduler(Optimizer& optimizer, Schedule schedule, std::size_t epoch = 0)
      : optimizer_(optimizer), schedule_(schedule), epoch_(epoch) {
    for (std::size_t g = 0; g < optimizer_.groups(); ++g) base_.push_back(optimizer_.group(g).options.lr);
    apply();
  }

  // The next epoch's rates.
  void step() {
    ++epoch_;
    apply();
  }

  std::size_t epoch() const { return epoch_; }
  // Group g's rate now.
  double lr(std::size_t g = 0) const { return optimizer_.group(g).options.lr; }

  // Resumes at `epoch` (from a checkpoint): its rates set.
  void set_epoch(std::size_t epoch) {
    epoch_ = epoch;
    apply();
  }

 private:
  void apply() {
    for (std::size_t g = 0; g < base_.size(); ++g) optimizer_.group(g).options.lr = schedule_.lr(base_[g], epoch_);
  }

  Optimizer& optimizer_;
  Schedule schedule_;
  std::size_t epoch_;
  std::vector<double> base_;
};

}  // namespace parcnn
