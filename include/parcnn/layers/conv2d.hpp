// parcnn/layers/conv2d.hpp — Conv2d: 2-D convolution with stride, zero padding, dilation, groups and
// optional bias, as PyTorch's.
//
// Input [N, in_channels, H, W] → output [N, out_channels, OH, OW],
// OH = (H + 2·pad − dilation·(k − 1) − 1) / stride + 1. Parameters, in PyTorch's layout:
// weight [out_channels, in_channels / groups, k_h, k_w], bias [out_channels].
// Computed as im2col + GEMM (kernels/gemm.hpp) per block of the strategy's cut, or, for a small patch
// at stride 1 (K ≤ 32: a first layer on 1 to 3 channels), by the direct kernel (kernels/conv2d_direct.hpp),
// or, at stride 1 without post-ops on maps that waste little padding, by a GEMM that reads the
// zero-padded input rows in place of columns (kernels::conv2d_forward_shifted). Backward at stride 1
// works without columns too (kernels::conv2d_backward).
// Every output is the same chain of multiply-adds whatever the cut and the kernel, so all strategies
// give the same bits:
//  - a cut of images, rows or tiles builds each block's own columns in per-worker scratch;
//  - a cut of output channels builds every image's columns once, shared by all channel blocks;
//  - the direct kernel stages each block's own input rows and shares nothing.
// In inference a plan fuses a following 2×2 max pool and element-wise layers into the convolution as
// post-ops (forward_fused, kernels/epilogue.hpp): they run on each block's output tile while it is in
// cache, and only the outputs the pool reads are computed. In training it runs a pool and one
// element-wise post-op the same way, keeping each window's position and the pooled values instead of
// its own output (forward_fused_for_backward), and runs the backward pass of the three as one
// (backward_fused, kernels/conv2d_pooled_backward.hpp), through the windows' maxima alone.
// A grouped convolution runs one im2col + GEMM per group inside each block (kernels::conv2d_forward_grouped);
// grouped or dilated, it takes post-ops in inference only.
#pragma once

#include <algorithm>
#include <memory>
#include <string>

#include "parcnn/core/error.hpp"
#include "parcnn/kernels/cost.hpp"
#include "parcnn/kernels/conv2d.hpp"
#include "parcnn/kernels/conv2d_direct.hpp"
#include "parcnn/kernels/conv2d_pooled_backward.hpp"
#include "parcnn/core/random.hpp"
#include "parcnn/layers/init.hpp"
#include "parcnn/layers/layer.hpp"
#include "parcnn/layers/size2d.hpp"
#include "parcnn/parallel/run.hpp"
#include "parcnn/parallel/executor.hpp"

namespace parcnn {

// Conv2d's settings beyond its channels and kernel, with PyTorch's names and defaults; each setter
// returns the options, so they chain: Conv2d<float>(32, 32, 3, Conv2dOptions().padding(1).groups(32)).
class Conv2dOptions {
 public:
  Conv2dOptions& stride(Size2d s) { return stride_ = s, *this; }
  Conv2dOptions& padding(Size2d p) { return padding_ = p, *this; }
  Conv2dOptions& dilation(Size2d d) { return dilation_ = d, *this; }
  Conv2dOptions& groups(std::size_t g) { return groups_ = g, *this; }
  Conv2dOptions& bias(bool b) { return bias_ = b, *this; }
  Size2d stride() const { return stride_; }
  Size2d padding() const { return padding_; }
  Size2d dilation() const { return dilation_; }
  std::size_t groups() const { return groups_; }
  bool bias() const { return bias_; }

 private:
  Size2d stride_ = 1, padding_ = 0, dilation_ = 1;
  std::size_t groups_ = 1;
  bool bias_ = true;
};

template <class T>
class Conv2d final : public Layer<T> {
 public:
  // The parameters start from PyTorch's default initialisation (reset_parameters), seeded by
  // next_default_seed(); layers/init.hpp has the others.
  Conv2d(std::size_t in_channels, std::size_t out_channels, Size2d kernel, Size2d stride = 1, Size2d padding = 0,
         bool bias = true)
      : Conv2d(in_channels, out_channels, kernel, Conv2dOptions().stride(stride).padding(padding).bias(bias)) {}

  Conv2d(std::size_t in_channels, std::size_t out_channels, Size2d kernel, const Conv2dOptions& options)
      : in_c_(in_channels),
        out_c_(out_channels),
        kernel_(kernel),
        stride_(options.stride()),
        padding_(options.padding()),
        dilation_(options.dilation()),
        groups_(options.groups()) {
    if (in_c_ == 0 || out_c_ == 0 || kernel_.h == 0 || kernel_.w == 0)
      throw ConfigError(name() + ": channels and kernel size must be at least 1");
    if (stride_.h == 0 || stride_.w == 0) throw ConfigError(name() + ": stride must be at least 1");
    if (dilation_.h == 0 || dilation_.w == 0) throw ConfigError(name() + ": dilation must be at least 1");
    if (groups_ == 0 || in_c_ % groups_ != 0 || out_c_ % groups_ != 0)
      throw ConfigError(name() + ": groups must be at least 1 and divide both channel counts (" +
                        std::to_string(in_c_) + " and " + std::to_string(out_c_) + ")");
    for (std::size_t extent : {kernel_.h, kernel_.w, stride_.h, stride_.w, padding_.h, padding_.w})
      if (extent > Shape::max_numel) throw ConfigError(name() + ": kernel, stride and padding must be at most 2^60");
    if (dilation_.h > Shape::max_numel / kernel_.h || dilation_.w > Shape::max_numel / kernel_.w)
      throw ConfigError(name() + ": dilation times kernel size must be at most 2^60");
    this->make_parameters([&] {
      weight_ = Tensor<T>(weight_shape());
      if (options.bias()) bias_ = Tensor<T>(Shape{out_c_});
    });
    reset_parameters(next_default_seed());
  }

  std::string name() const override {
    std::string s = "Conv2d(" + std::to_string(in_c_) + "->" + std::to_string(out_c_) + ", k=" + kernel_.str();
    if (stride_.h != 1 || stride_.w != 1) s += ", stride=" + stride_.str();
    if (padding_.h != 0 || padding_.w != 0) s += ", pad=" + padding_.str();
    if (dilation_.h != 1 || dilation_.w != 1) s += ", dilation=" + dilation_.str();
    if (groups_ != 1) s += ", groups=" + std::to_string(groups_);
    return s + ")";
  }

  std::size_t groups() const { return groups_; }
  Size2d dilation() const { return dilation_; }

  Tensor<T>& weight() { return weight_; }
  const Tensor<T>& weight() const { return weight_; }
  // Empty when the layer was built without bias.
  Tensor<T>& bias() { return bias_; }
  const Tensor<T>& bias() const { return bias_; }
  bool has_bias() const { return !bias_.empty(); }

  std::vector<NamedParameter<T>> parameters() override {
    std::vector<NamedParameter<T>> p{{"weight", &weight_}};
    if (has_bias()) p.push_back({"bias", &bias_});
    return p;
  }

  std::size_t parameter_count() const override { return has_bias() ? 2 : 1; }

  std::vector<Shape> parameter_shapes() const override {
    std::vector<Shape> s{weight_shape()};
    if (has_bias()) s.push_back(Shape{out_c_});
    return s;
  }

  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Conv2d>(*this); }

  // PyTorch's default: weight Kaiming-uniform (a = √5), bias uniform in ±1/√(in_channels / groups·k_h·k_w).
  void reset_parameters(std::uint64_t seed) override { init::torch_default<T>(weight_, bias_, seed); }

  Shape output_shape(const Shape& in) const override {
    check_parameters();
    const std::size_t span_h = dilation_.h * (kernel_.h - 1) + 1, span_w = dilation_.w * (kernel_.w - 1) + 1;
    const std::size_t min_h = span_h > 2 * padding_.h ? span_h - 2 * padding_.h : 1;
    const std::size_t min_w = span_w > 2 * padding_.w ? span_w - 2 * padding_.w : 1;
    if (in.rank() != 4 || in[1] != in_c_ || in[0] == 0 || in[2] < min_h || in[3] < min_w)
      throw ShapeError(name() + ": expected input [N, " + std::to_string(in_c_) + ", H, W] with N >= 1, H >= " +
                       std::to_string(min_h) + ", W >= " + std::to_string(min_w) + ", got " + in.str());
    const kernels::Conv2dGeometry g = geometry(in);
    return this->output_of({in[0], out_c_, g.out_h, g.out_w}, in);
  }

  Workload workload(const Shape& in) const override { return fused_workload(in, kernels::PostOps{}); }

  // In inference, a 2×2 max pool or not, then element-wise post-ops, on each block's output tile. For
  // training (Pass::for_backward), a 2×2 pool then one element-wise post-op or none, recording the
  // windows' positions, wherever the fused backward takes the stage (the convolution's output is then
  // never written for the pool to read back).
  bool accepts(const Shape& in, const kernels::PostOps& post_ops, Pass pass) const override {
    if (pass == Pass::inference) return post_ops.elementwise_from(post_ops.pools() ? 1 : 0);
    return post_ops.pools() && post_ops.size() <= 2 && post_ops.elementwise_from(1) &&
           kernels::conv2d_pooled_backward_fits<T>(geometry(in));
  }

  // Only the outputs the post-ops read count: with a pool, 100 of an 11×11 map's 121 positions.
  Workload fused_workload(const Shape& in, const kernels::PostOps& e) const override {
    const kernels::Conv2dGeometry g = geometry(in);
    const std::size_t f = e.reduction(), eh = kernels::epilogue_out_h(g, e), ew = kernels::epilogue_out_w(g, e);
    const double computed = double(in[0]) * double(out_c_) * double(f * eh * f * ew);
    Workload w;
    w.space = IndexSpace{in[0], out_c_, eh, ew};
    w.flops = 2.0 * computed * double(g.patch()) + kernels::cost::elementwise_post_ops_flops(e, double(w.space.items()));
    w.parameter_bytes = double(sizeof(T)) * double(weight_.size());
    w.bytes = double(sizeof(T)) * (double(in.numel()) + double(w.space.items())) + w.parameter_bytes;
    if (kernels::conv2d_direct_fits(g)) {
      // The direct kernel, pool included; its blocks share nothing, so a channel cut costs only the
      // fork-join, and a row cut also the halo rows each block stages again.
      w.one_core_ns = kernels::cost::direct_conv_ns(kernels::conv2d_direct_vector_fmas<T>(g, e, in[0]));
      w.one_core_ns += kernels::cost::elementwise_post_ops_ns<T>(e, double(w.space.items()));
      w.channel_cut_ns = 0;
      w.row_cut_ns = 500;
      return w;
    }
    if (g.groups > 1) {
      // One GEMM of out_c / groups rows per group and image (kernels::conv2d_forward_grouped); a cut of
      // channels inside a group builds that group's columns again.
      const double K = double(g.patch()), columns = double(in[0] * f * eh * f * ew);
      const double columns_ns = kernels::cost::im2col_ns<T>(double(in[0] * f * eh * g.groups) * K,
                                                            columns * K * double(g.groups));
      w.one_core_ns = double(g.groups) * kernels::cost::gemm_ns<T>(double(g.out_c / g.groups), columns, K, w.bytes) +
                      columns_ns;
      if (e.pools()) w.one_core_ns += kernels::cost::max_pool_2x2_ns(double(in[0] * out_c_), double(eh), double(ew));
      w.one_core_ns += kernels::cost::elementwise_post_ops_ns<T>(e, double(w.space.items()));
      w.channel_cut_ns = 0;
      w.channel_cut_repeats_ns = columns_ns / double(g.groups);
      return w;
    }
    // One core runs the images in stacks of about stack_columns positions, each GEMM's columns padded
    // to whole vectors; then the epilogue's pool rows and GELU values.
    const std::size_t Q = f * eh * f * ew, stack = stack_images(Q, g.patch(), in[0]);
    const std::size_t last = in[0] % stack;  // images in a last, smaller stack
    const double columns = double(in[0] / stack) * double(kernels::gemm_whole_vectors<T>(stack * Q)) +
                           double(last ? kernels::gemm_whole_vectors<T>(last * Q) : 0);
    const double K = double(g.patch());
    const std::size_t short_vectors = kernels::im2col_short_row_vectors<T>(g, f * eh, f * ew);
    const double columns_ns = short_vectors
                                  ? kernels::cost::im2col_short_rows_ns(double(in[0] * short_vectors) * K)
                                  : kernels::cost::im2col_ns<T>(double(in[0] * f * eh) * K, double(in[0] * Q) * K);
    w.one_core_ns = kernels::cost::gemm_ns<T>(double(out_c_), columns, K, w.bytes) + columns_ns;
    // A cut of its channels inside an image has each channel block build the columns it reads
    // (run_fused): nothing else shared, but the build repeated.
    w.channel_cut_ns = 0;
    w.channel_cut_repeats_ns = columns_ns;
    if (e.pools()) w.one_core_ns += kernels::cost::max_pool_2x2_ns(double(in[0] * out_c_), double(eh), double(ew));
    w.one_core_ns += kernels::cost::elementwise_post_ops_ns<T>(e, double(w.space.items()));
    w.stacked_images = most_stacked_images(Q, g.patch());
    return w;
  }

  Algorithm algorithm(const Shape& in, const kernels::PostOps& e, const Cut& cut, std::size_t workers) const override {
    const BlockGrid grid(fused_workload(in, e).space, cut);
    const Path p = path_for(in, e, grid, workers);
    Algorithm a;
    a.scratch_per_worker = p.scratch;
    a.shared = p.shared;
    const std::string gemm = gemm_ == kernels::GemmBackend::eigen ? "im2col + Eigen's GEMM" : "im2col + GEMM";
    if (p.kind == Path::direct) a.name = "direct (small patch), blocks share nothing";
    else if (p.kind == Path::grouped) a.name = gemm + " per group, each block its own columns";
    else if (p.kind == Path::shared_columns) a.name = gemm + ", every image's columns built once, shared by the channel blocks";
    else if (p.shifted) a.name = "GEMM over the zero-padded input rows (no columns), each block its own";
    else if (p.stack > 1) a.name = gemm + ", each block its own columns, " + std::to_string(p.stack) + " images per GEMM";
    else a.name = gemm + ", each block its own columns";
    return a;
  }

  void use_gemm(kernels::GemmBackend backend) override { gemm_ = backend; }
  kernels::GemmBackend gemm() const { return gemm_; }

  // The geometry of one image of an input of shape `in` (which must be valid).
  kernels::Conv2dGeometry geometry(const Shape& in) const {
    kernels::Conv2dGeometry g;
    g.in_c = in_c_;
    g.in_h = in[2];
    g.in_w = in[3];
    g.out_c = out_c_;
    g.k_h = kernel_.h;
    g.k_w = kernel_.w;
    g.stride_h = stride_.h;
    g.stride_w = stride_.w;
    g.pad_h = padding_.h;
    g.pad_w = padding_.w;
    g.dil_h = dilation_.h;
    g.dil_w = dilation_.w;
    g.groups = groups_;
    g.out_h = (g.in_h + 2 * g.pad_h - g.dil_h * (g.k_h - 1) - 1) / g.stride_h + 1;
    g.out_w = (g.in_w + 2 * g.pad_w - g.dil_w * (g.k_w - 1) - 1) / g.stride_w + 1;
    return g;
  }

 protected:
  void run(TensorView<const T> in, TensorView<T> out, const Strategy& strategy, Workspace<T>& ws) const override {
    run_epilogue(in, out, kernels::PostOps{}, strategy, ws, {});
  }

  void run_fused(TensorView<const T> in, TensorView<T> out, const kernels::PostOps& e, kernels::EpilogueRecord<T> record,
                 const Strategy& strategy, Workspace<T>& ws) const override {
    run_epilogue(in, out, e, strategy, ws, record);
  }

  // The convolution and post-ops `e` (none: the plain convolution, its GEMMs writing straight into the
  // output where a block's positions are contiguous there); with `record` (a pooled epilogue) keeping
  // what the fused backward reads (kernels::EpilogueRecord, laid out as `out`).
  void run_epilogue(TensorView<const T> in, TensorView<T> out, const kernels::PostOps& e, const Strategy& strategy,
                    Workspace<T>& ws, kernels::EpilogueRecord<T> record) const {
    const kernels::Conv2dGeometry g = geometry(in.shape());
    const Workload work = fused_workload(in.shape(), e);
    const std::size_t workers = current_workers();
    const BlockGrid grid(work.space, strategy.cut(work, workers));
    const Path path = path_for(in.shape(), e, grid, workers);
    const Cut& cut = grid.cut();
    const T* x = in.data();
    T* y = out.data();
    const T* w = weight_.data();
    const T* b = has_bias() ? bias_.data() : nullptr;
    const std::size_t K = g.patch();
    const std::size_t eh = work.space.h, ew = work.space.w, out_image = g.out_c * eh * ew;

    if (path.kind == Path::direct) return run_direct(in, out, e, grid, ws, record, path);
    if (path.kind == Path::grouped) {
      ws.reserve_scratch(scratch_workers(grid, workers), path.scratch);
      run_blocks(work.space, cut, [&](const Block& blk, std::size_t worker) {
        for (std::size_t n = blk.n.begin; n < blk.n.end; ++n)
          kernels::conv2d_forward_grouped(x + n * g.in_image(), w, b, g, e, blk.c, blk.h, blk.w, ws.scratch(worker),
                                          y + n * out_image, gemm_);
      });
      return;
    }
    if (path.kind == Path::shared_columns) {
      // Columns of every image once (parallel over images), then channel blocks share them. Without an
      // epilogue the GEMMs write straight into y; with one, into a tile the epilogue reads.
      const std::size_t ld = kernels::epilogue_columns_stride<T>(g, e);
      T* columns = ws.shared(path.shared);
      run_blocks(IndexSpace{in.dim(0)}, Cut{}, [&](const Block& blk, std::size_t) {
        for (std::size_t n = blk.n.begin; n < blk.n.end; ++n)
          kernels::im2col_for_epilogue(x + n * g.in_image(), g, e, columns + n * K * ld);
      });
      ws.reserve_scratch(workers, path.scratch);
      run_blocks(work.space, cut, [&](const Block& blk, std::size_t worker) {
        for (std::size_t n = blk.n.begin; n < blk.n.end; ++n) {
          const T* image_columns = columns + n * K * ld;
          if (e.empty())
            kernels::conv2d_forward_columns(image_columns, ld, w, b, g, blk.c, ws.scratch(worker), y + n * out_image,
                                            gemm_);
          else
            kernels::conv2d_forward_epilogue_columns(image_columns, w, b, g, e, blk.c, ws.scratch(worker),
                                                     y + n * out_image, record.at(n * out_image), gemm_);
        }
      });
      return;
    }
    // Each block builds its own columns, several images in one GEMM where the block holds whole images.
    const std::size_t stack = path.stack;
    ws.reserve_scratch(scratch_workers(grid, workers), path.scratch);
    run_blocks(work.space, cut, [&](const Block& blk, std::size_t worker) {
      T* scratch = ws.scratch(worker);
      for (std::size_t n = blk.n.begin; n < blk.n.end; n += stack) {
        if (path.shifted)
          kernels::conv2d_forward_shifted(x + n * g.in_image(), w, b, g, blk.c, blk.h, scratch, y + n * out_image);
        else if (path.into_output)
          kernels::conv2d_forward_im2col(x + n * g.in_image(), w, b, g, blk.c, blk.h, blk.w, scratch, y + n * out_image,
                                         gemm_);
        else
          kernels::conv2d_forward_epilogue(x + n * g.in_image(), std::min(stack, blk.n.end - n), w, b, g, e, blk.c,
                                           blk.h, blk.w, scratch, y + n * out_image, record.at(n * out_image), gemm_);
      }
    });
  }

  // How run_epilogue computes a cut, decided in one place for the run and for the plan (algorithm()).
  struct Path {
    enum Kind { direct, grouped, shared_columns, block_columns } kind;
    std::size_t stack = 1;     // block_columns: images per GEMM
    bool into_output = false;  // block_columns: the GEMM writes the output directly (no post-ops, one image)
    bool shifted = false;      // into_output of whole rows at stride 1: no columns (kernels::conv2d_forward_shifted)
    std::size_t scratch = 0;   // per worker
    std::size_t shared = 0;    // shared_columns: the columns of every image
  };

  // - a small patch at stride 1 (kernels::conv2d_direct_fits): the direct kernel, its blocks sharing nothing;
  // - groups: each block its own columns, group by group;
  // - a cut of channels of whole images: every image's columns built once and shared by the channel
  //   blocks — unless there are fewer images than workers and no more channel blocks of an image than
  //   workers: then each block builds the columns it reads, as one image's columns built once would
  //   take one core while the others wait, and then cross to every core that reads them;
  // - otherwise each block builds its own columns, a stack of images per GEMM where it holds whole images —
  //   but for whole rows at stride 1 without post-ops, where little padding is wasted (shifted_waste_ok),
  //   one image at a time whose GEMM reads the padded input rows in place of columns
  //   (kernels::conv2d_forward_shifted).
  Path path_for(const Shape& in, const kernels::PostOps& e, const BlockGrid& grid, std::size_t workers) const {
    const kernels::Conv2dGeometry g = geometry(in);
    const Cut& cut = grid.cut();
    const std::size_t eh = kernels::epilogue_out_h(g, e), ew = kernels::epilogue_out_w(g, e);
    const std::size_t f = e.reduction(), Q = f * eh * f * ew, K = g.patch();
    Path p{Path::direct};
    if (kernels::conv2d_direct_fits(g)) {
      p.scratch = kernels::conv2d_direct_scratch<T>(g, e, cut.h, cut.w);
      return p;
    }
    if (g.groups > 1) {
      p.kind = Path::grouped;
      p.scratch = kernels::conv2d_grouped_scratch<T>(g, e, cut.c, cut.h, cut.w);
      return p;
    }
    const bool channels_cut = cut.c < g.out_c && cut.h == eh && cut.w == ew;
    const bool own_columns = in[0] < workers && ceil_div(g.out_c, cut.c) <= workers;
    if (channels_cut && !own_columns) {
      p.kind = Path::shared_columns;
      p.shared = in[0] * K * kernels::epilogue_columns_stride<T>(g, e);
      p.scratch = e.empty() ? kernels::gemm_scratch<T>(cut.c, K)
                            : kernels::conv2d_epilogue_scratch<T>(g, e, cut.c, 1, eh, ew);
      return p;
    }
    p.kind = Path::block_columns;
    p.shifted = e.empty() && cut.w == g.out_w && gemm_ == kernels::GemmBackend::parcnn &&
                kernels::conv2d_shifted_fits(g) && shifted_waste_ok(g);
    p.stack = cut.h == eh && cut.w == ew && !p.shifted ? stack_images(Q, K, cut.n) : 1;
    p.into_output = e.empty() && p.stack == 1;
    p.scratch = p.shifted       ? kernels::conv2d_shifted_scratch<T>(g, cut.c, cut.h)
                : p.into_output ? kernels::conv2d_im2col_scratch<T>(g, cut.c, cut.h, cut.w)
                                : kernels::conv2d_epilogue_scratch<T>(g, e, cut.c, p.stack, cut.h, cut.w);
    return p;
  }

  // A small patch (kernels::conv2d_direct_fits): the direct kernel, every block on its own (it has no
  // columns to share); with `record`, keeping what the fused backward reads (kernels::EpilogueRecord,
  // each laid out as `out`).
  void run_direct(TensorView<const T> in, TensorView<T> out, const kernels::PostOps& e, const BlockGrid& grid,
                  Workspace<T>& ws, kernels::EpilogueRecord<T> record, const Path& path) const {
    const kernels::Conv2dGeometry g = geometry(in.shape());
    const IndexSpace& space = fused_workload(in.shape(), e).space;
    const std::size_t out_image = space.c * space.h * space.w;
    const T* b = has_bias() ? bias_.data() : nullptr;
    ws.reserve_scratch(scratch_workers(grid, current_workers()), path.scratch);
    run_blocks(space, grid.cut(), [&](const Block& blk, std::size_t worker) {
      for (std::size_t n = blk.n.begin; n < blk.n.end; ++n)
        kernels::conv2d_forward_direct(in.data() + n * g.in_image(), weight_.data(), b, g, e, blk.c, blk.h, blk.w,
                                       ws.scratch(worker), out.data() + n * out_image, record.at(n * out_image));
    });
  }

  // Whether the GEMM over padded rows drops at most 1/8 of the positions it computes (rows of
  // in_w + 2·pad_w for out_w outputs): a 14×14 map padded by 1 drops 1/8, a 7×7 one 2/9 — there the
  // columns, images stacked, cost less than the positions wasted.
  static bool shifted_waste_ok(const kernels::Conv2dGeometry& g) { return 7 * (g.in_w + 2 * g.pad_w) <= 8 * g.out_w; }

  // Positions per stacked GEMM: several images of a small feature map share one matrix product.
  static constexpr std::size_t stack_columns = 512;
  // The most bytes of im2col columns (patch × positions) one forward stack builds: with a long patch,
  // more images per stack crowd the shared L3 with every core's columns and lose
  // (docs/performance.md, "The kernels' constants"). The backward's stacks are not capped: there
  // longer stacks won.
  static constexpr std::size_t stack_column_bytes = std::size_t{4} << 20;

  // The most images of Q positions and K patch values one forward stack takes: stack_columns
  // positions and stack_column_bytes of columns, at least one image.
  static std::size_t most_stacked_images(std::size_t Q, std::size_t K) {
    const std::size_t by_positions = stack_columns / Q, by_bytes = stack_column_bytes / (sizeof(T) * K * Q);
    return std::max<std::size_t>(1, std::min(by_positions, by_bytes));
  }

  // Images per forward stack over `images` images: at most most_stacked_images(Q, K), in stacks of
  // (nearly) equal size — 64 images of conv3's 9 positions go in two stacks of 32, not in 56 and a
  // thin 8.
  static std::size_t stack_images(std::size_t Q, std::size_t K, std::size_t images) {
    if (images <= 1) return 1;
    const std::size_t stacks = ceil_div(images, std::min(most_stacked_images(Q, K), images));
    return ceil_div(images, stacks);
  }

  // Chunks in parallel; in a chunk, its images in order (see GradientChunks), several per GEMM.
  void run_backward(TensorView<const T> in, TensorView<const T>, TensorView<const T> grad_out, TensorView<T> grad_in,
                    GradientSlice<T> grads, Workspace<T>& ws) const override {
    const kernels::Conv2dGeometry g = geometry(in.shape());
    if (g.groups > 1) return run_backward_grouped(in, grad_out, grad_in, grads, ws);
    const std::size_t stack = std::max<std::size_t>(1, stack_columns / g.positions());
    ws.reserve_scratch(current_workers(), kernels::conv2d_backward_scratch<T>(g, stack));
    run_blocks(IndexSpace{grads.count()}, Cut{}, [&](const Block& blk, std::size_t worker) {
      for (std::size_t c = blk.n.begin; c < blk.n.end; ++c) {
        T* dw = grads.grad(c, 0).data();
        T* db = has_bias() ? grads.grad(c, 1).data() : nullptr;
        const Range images = grads.images(c);
        for (std::size_t n = images.begin; n < images.end; n += stack)
          kernels::conv2d_backward(in.data() + n * g.in_image(), std::min(stack, images.end - n), weight_.data(),
                                   grad_out.data() + n * g.out_image(), g, dw, db,
                                   grad_in.empty() ? nullptr : grad_in.data() + n * g.in_image(), ws.scratch(worker));
      }
    });
  }

  // Chunks in parallel; in a chunk, its images in order, each one group at a time.
  void run_backward_grouped(TensorView<const T> in, TensorView<const T> grad_out, TensorView<T> grad_in,
                            GradientSlice<T> grads, Workspace<T>& ws) const {
    const kernels::Conv2dGeometry g = geometry(in.shape());
    ws.reserve_scratch(current_workers(), kernels::conv2d_backward_scratch<T>(g.group(), 1));
    run_blocks(IndexSpace{grads.count()}, Cut{}, [&](const Block& blk, std::size_t worker) {
      for (std::size_t c = blk.n.begin; c < blk.n.end; ++c) {
        T* dw = grads.grad(c, 0).data();
        T* db = has_bias() ? grads.grad(c, 1).data() : nullptr;
        const Range images = grads.images(c);
        for (std::size_t n = images.begin; n < images.end; ++n)
          kernels::conv2d_backward_grouped(in.data() + n * g.in_image(), weight_.data(),
                                           grad_out.data() + n * g.out_image(), g, dw, db,
                                           grad_in.empty() ? nullptr : grad_in.data() + n * g.in_image(),
                                           ws.scratch(worker));
      }
    });
  }

  // Chunks in parallel; in a chunk, its images in order (see GradientChunks).
  void run_backward_fused(TensorView<const T> in, TensorView<const T> out, TensorView<const T> pooled,
                          TensorView<const T> grad_out, TensorView<T> grad_in, const kernels::PostOps& e,
                          GradientSlice<T> grads, Workspace<T>& ws, const std::uint32_t* positions) const override {
    const kernels::Conv2dGeometry g = geometry(in.shape());
    T* weight_cl = nullptr;
    if (!grad_in.empty()) {
      weight_cl = ws.shared(kernels::conv2d_weight_channels_last_size<T>(g));
      kernels::conv2d_weight_channels_last(weight_.data(), g, weight_cl);
    }
    const std::size_t pooled_image = pooled.size() / in.dim(0), K = g.patch();
    const std::size_t kernel_scratch = kernels::conv2d_pooled_backward_scratch<T>(g);
    const std::size_t acc_size = kernels::gemm_whole_vectors<T>(g.out_c * K);
    ws.reserve_scratch(current_workers(), kernel_scratch + acc_size + K);
    run_blocks(IndexSpace{grads.count()}, Cut{}, [&](const Block& blk, std::size_t worker) {
      T* scratch = ws.scratch(worker);
      T* acc = scratch + kernel_scratch;  // the chunk's weight gradient, in the kernel's layout
      for (std::size_t c = blk.n.begin; c < blk.n.end; ++c) {
        T* db = has_bias() ? grads.grad(c, 1).data() : nullptr;
        std::fill_n(acc, g.out_c * K, T(0));
        const Range images = grads.images(c);
        for (std::size_t n = images.begin; n < images.end; ++n)
          kernels::conv2d_pooled_backward(in.data() + n * g.in_image(), positions ? nullptr : out.data() + n * g.out_image(),
                                          positions ? positions + n * pooled_image : nullptr,
                                          pooled.data() + n * pooled_image, grad_out.data() + n * pooled_image,
                                          weight_cl, g, e, acc, db,
                                          grad_in.empty() ? nullptr : grad_in.data() + n * g.in_image(), scratch);
        kernels::conv2d_pooled_weight_gradient_add(g, acc, grads.grad(c, 0).data(), acc + acc_size);
      }
    });
  }

 private:
  Shape weight_shape() const { return Shape{out_c_, in_c_ / groups_, kernel_.h, kernel_.w}; }

  void check_parameters() const {
    const Shape expected = weight_shape();
    if (weight_.shape() != expected)
      throw ShapeError(name() + ": weight must have shape " + expected.str() + ", got " + weight_.shape().str());
    if (has_bias() && bias_.shape() != Shape{out_c_})
      throw ShapeError(name() + ": bias must have shape " + Shape{out_c_}.str() + ", got " + bias_.shape().str());
  }

  std::size_t in_c_, out_c_;
  Size2d kernel_, stride_, padding_, dilation_;
  std::size_t groups_;
  Tensor<T> weight_, bias_;
  kernels::GemmBackend gemm_ = kernels::GemmBackend::parcnn;
};

}  // namespace parcnn
