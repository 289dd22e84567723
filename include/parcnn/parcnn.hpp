// parcnn/parcnn.hpp — the one header a user includes.
//
// Layout (each folder one layer of the design, each header one concept; a folder includes only those
// above it here, .ci/check-includes):
//   core/      Shape, Tensor<T>, TensorView<T>, Workspace<T>, GradientChunks<T>, predictions, random fills,
//              comparisons, Eigen maps
//   kernels/   plain functions over memory: im2col, GEMM, conv, pooling, GELU, ReLU, activations,
//              linear, (log-)softmax, each with a plain-loop reference; post-ops (what a layer runs on its
//              output); cost.hpp, what they take on one core (for Auto)
//   parallel/  the strategies (Serial, Batch, Channel, Spatial, Tiled, Auto, Tuned, Fixed), the
//              runtime Strategy value with names, executors and the profile plans are made for, the
//              machine profile (what cores and cuts cost here), the oneTBB block runner, Team
//              (helpers that stay awake between a model's cuts), pipelines of stages on executors of
//              their own, uneven tasks longest first, and the hardware (caches, bandwidth); the only
//              folder that includes oneTBB
//   plan/      Plan (a model's stages, cuts, kernel paths and team for one input and executor) and
//              make_plan, where they are decided
//   layers/    Conv2d, BatchNorm2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, the element-wise layers
//              (GELU, ReLU, LeakyReLU, Sigmoid, Tanh), Dropout, Linear, LogSoftmax, Softmax, Flatten,
//              Residual, Sequential; the initialisers (init.hpp); tune (plans measured), ModelPipeline
//              (a model's stages on their own workers), run_requests (requests of many sizes)
//   models/    the letter CNN of the guide, a small ResNet
//   train/     losses, parameters with gradients, a model's backward in one call, SGD and Adam,
//              learning-rate schedules, the trainer, the step's profile
//   io/        IDX data sets (gzip or plain), batches (made while the step before runs), safetensors
//              tensors and weights, training checkpoints, plans as JSON files; included here only
//              with PARCNN_WITH_IO (the parcnn::io component: zlib, nlohmann-json)
//   mpi/       training across processes: the gradient chunks of every rank summed in one fixed order;
//              included here only with PARCNN_WITH_MPI (the parcnn::mpi component: MPI)
#pragma once

#include "parcnn/version.hpp"

#include "parcnn/core/compare.hpp"
#include "parcnn/core/eigen_map.hpp"
#include "parcnn/core/error.hpp"
#include "parcnn/core/gradient_chunks.hpp"
#include "parcnn/core/predictions.hpp"
#include "parcnn/core/random.hpp"
#include "parcnn/core/range.hpp"
#include "parcnn/core/shape.hpp"
#include "parcnn/core/tensor.hpp"
#include "parcnn/core/tensor_view.hpp"
#include "parcnn/core/workspace.hpp"

#include "parcnn/parallel/auto.hpp"
#include "parcnn/parallel/batch.hpp"
#include "parcnn/parallel/channel.hpp"
#include "parcnn/parallel/executor.hpp"
#include "parcnn/parallel/executor_profile.hpp"
#include "parcnn/parallel/fixed.hpp"
#include "parcnn/parallel/hardware.hpp"
#include "parcnn/parallel/index_space.hpp"
#include "parcnn/parallel/machine_profile.hpp"
#include "parcnn/parallel/pipeline.hpp"
#include "parcnn/parallel/run.hpp"
#include "parcnn/parallel/schedule.hpp"
#include "parcnn/parallel/serial.hpp"
#include "parcnn/parallel/spatial.hpp"
#include "parcnn/parallel/strategy.hpp"
#include "parcnn/parallel/team.hpp"
#include "parcnn/parallel/tiled.hpp"
#include "parcnn/parallel/tuned.hpp"

#include "parcnn/plan/make_plan.hpp"
#include "parcnn/plan/plan.hpp"

#include "parcnn/layers/activations.hpp"
#include "parcnn/layers/adaptive_avgpool2d.hpp"
#include "parcnn/layers/avgpool2d.hpp"
#include "parcnn/layers/batch_norm2d.hpp"
#include "parcnn/layers/conv2d.hpp"
#include "parcnn/layers/dropout.hpp"
#include "parcnn/layers/elementwise.hpp"
#include "parcnn/layers/flatten.hpp"
#include "parcnn/layers/fold_batch_norm.hpp"
#include "parcnn/layers/gelu.hpp"
#include "parcnn/layers/init.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/layers/linear.hpp"
#include "parcnn/layers/log_softmax.hpp"
#include "parcnn/layers/maxpool2d.hpp"
#include "parcnn/layers/model_pipeline.hpp"
#include "parcnn/layers/relu.hpp"
#include "parcnn/layers/residual.hpp"
#include "parcnn/layers/rowwise.hpp"
#include "parcnn/layers/run_requests.hpp"
#include "parcnn/layers/sequential.hpp"
#include "parcnn/layers/softmax.hpp"
#include "parcnn/layers/tune.hpp"

#include "parcnn/models/letter_cnn.hpp"
#include "parcnn/models/small_resnet.hpp"

#if defined(PARCNN_WITH_IO)  // the parcnn::io and parcnn::parcnn targets define it
#include "parcnn/io/batch_stream.hpp"
#include "parcnn/io/checkpoint.hpp"
#include "parcnn/io/dataset.hpp"
#include "parcnn/io/idx.hpp"
#include "parcnn/io/plan_file.hpp"
#include "parcnn/io/safetensors.hpp"
#endif

#include "parcnn/train/adam.hpp"
#include "parcnn/train/backward.hpp"
#include "parcnn/train/gradient_reduction.hpp"
#include "parcnn/train/loss.hpp"
#include "parcnn/train/lr_schedule.hpp"
#include "parcnn/train/optimizer.hpp"
#include "parcnn/train/parameters.hpp"
#include "parcnn/train/sgd.hpp"
#include "parcnn/train/step_profile.hpp"
#include "parcnn/train/trainer.hpp"

#if defined(PARCNN_WITH_MPI)  // the parcnn::mpi target defines it
#include "parcnn/mpi/distributed_trainer.hpp"
#include "parcnn/mpi/ordered_sum.hpp"
#endif
