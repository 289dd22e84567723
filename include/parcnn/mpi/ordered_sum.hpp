// parcnn/mpi/ordered_sum.hpp — the gradient chunks of every rank summed in one fixed order: the same bits
// as one process, for any number of ranks.
//
// One process sums a batch's gradient chunks left to right, ((c0 + c1) + c2) + … (GradientChunks::sum),
// and trains to the same bits on any thread count. Across ranks, an all-reduce adds in whatever order
// its algorithm takes, and the bits would change with the world size. Here each rank holds a
// contiguous run of the chunks (chunk_share: ranks in chunk order) and the running sum travels the
// ranks in a chain: rank r receives the sum of the chunks before its own from rank r − 1, adds its
// chunks one by one, and passes the result to rank r + 1; the last rank's sum is the total, which it
// broadcasts bucket by bucket. Every element is the very chain of additions one process makes. The cost: the sum crosses
// W − 1 links one after another instead of an all-reduce's log W or ring steps, and the chain's ranks
// wait on the ones before — bucket by bucket (`bucket_elements`), so that rank r adds bucket k while
// rank r + 1 adds bucket k − 1 and a chain of W ranks finishes about W − 1 buckets after the first.
// OrderedSum runs the chain while a backward pass goes on: the buckets go in the order the pass finishes
// them (the last layer's first), each as soon as this rank's chunks have finished it, and a step waits
// only for the buckets of the layers finished last.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "parcnn/core/error.hpp"
#include "parcnn/core/gradient_chunks.hpp"
#include "parcnn/core/range.hpp"
#include "parcnn/core/tensor_view.hpp"

namespace parcnn::mpi {

// MPI's name for T.
template <class T>
MPI_Datatype datatype() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "parcnn::mpi sums float or double gradients");
  return std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
}

// Throws ConfigError naming `what` unless `code` is MPI_SUCCESS.
inline void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw ConfigError(std::string("parcnn::mpi: ") + what + " failed: " + std::string(text, std::size_t(length)));
}

// The chunks [begin, end) of `chunks` that rank `rank` of `ranks` holds: contiguous, in rank order, as
// even as they divide (a rank may hold none when the chunks are fewer than the ranks).
inline Range chunk_share(std::size_t chunks, int ranks, int rank) {
  if (ranks <= 0 || rank < 0 || rank >= ranks)
    throw ConfigError("parcnn::mpi::chunk_share: rank " + std::to_string(rank) + " of " + std::to_string(ranks));
  const std::size_t W = std::size_t(ranks), r = std::size_t(rank);
  return Range{r * chunks / W, (r + 1) * chunks / W};
}

// How the running sums and totals travel: messages (MPI_Isend and MPI_Ibcast, between machines), or,
// when every rank of the communicator is on one machine, a shared-memory window (MPI_Win_allocate_shared)
// that each rank reads the rank before it's sums and the last rank's totals from, without a copy by MPI.
enum class Transport { automatic, messages, shared_memory };

// The sum of every rank's chunks in chunk order, as an engine a training step drives while its backward
// pass runs. start() begins a step's sum; the pass tells it (GradientObserver::finished) as this rank's
// chunks finish each parameter, and each bucket is then summed, passed on and its total given out as soon
// as that can be done without waiting, in the order the pass finishes them (last parameter first);
// finish() does the rest, waiting where it must. out[p] ends as parameter p's gradient summed over all
// `total_chunks` chunks, on every rank; this rank holds chunks `share` (chunk_share) as the first
// share.size() chunks of `local`, in order (a rank whose share is empty adds nothing, but takes part).
// ready(p, begin, count) runs on every rank once the total of elements [begin, begin + count) of
// parameter p is in out[p] (an optimizer's update of them, say), in bucket order.
//
// Collective: every rank of the communicator makes its OrderedSum, runs the same steps on parameters of
// the same shapes, and destroys it, before MPI_Finalize. Over messages, MPI is called by the thread that
// called start() and, when MPI was initialised with MPI_THREAD_SERIALIZED or more, by whichever thread
// tells finished(), one at a time (a call of finished() that may not call MPI only counts); over shared
// memory a step calls no MPI at all.
template <class T>
class OrderedSum final : public GradientObserver {
 public:
  using Ready = std::function<void(std::size_t p, std::size_t begin, std::size_t count)>;

  // Buckets of 2^16 elements (256 KiB of floats): small enough that ranks overlap along the chain, large
  // enough that a message's latency is small beside its transfer.
  static constexpr std::size_t default_bucket_elements = std::size_t(1) << 16;

  // Transport::automatic takes shared memory when every rank is on this machine.
  explicit OrderedSum(MPI_Comm comm, std::size_t bucket_elements = default_bucket_elements,
                      Transport transport = Transport::automatic)
      : comm_(comm), bucket_elements_(bucket_elements) {
    if (bucket_elements == 0 || bucket_elements > std::size_t(1) << 30)
      throw ConfigError("parcnn::mpi::OrderedSum: a bucket of " + std::to_string(bucket_elements) + " elements");
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &ranks_), "MPI_Comm_size");
    check(MPI_Query_thread(&thread_level_), "MPI_Query_thread");
    if (transport != Transport::messages) {
      MPI_Comm node = MPI_COMM_NULL;
      check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
      int node_ranks = 0;
      check(MPI_Comm_size(node, &node_ranks), "MPI_Comm_size");
      MPI_Comm_free(&node);
      shared_ = node_ranks == ranks_;
      if (transport == Transport::shared_memory && !shared_)
        throw ConfigError("parcnn::mpi::OrderedSum: shared memory asked for, but " + std::to_string(ranks_ - node_ranks) +
                          " of the " + std::to_string(ranks_) + " ranks are on other machines");
    }
  }
  OrderedSum(const OrderedSum&) = delete;
  OrderedSum& operator=(const OrderedSum&) = delete;
  ~OrderedSum() {
    abandon();
    free_window();
  }

  bool shared_memory() const { return shared_; }

  // Begins a sum (the last one finished). `local` may be planned and filled later (as a Trainer's chunks
  // are, by the step's backward pass): a bucket is read once finished() has counted share.size() chunks
  // for its parameter, or in finish(); `local` is checked against `share` and `out` then, at the first
  // bucket, before this rank passes anything on.
  void start(const GradientChunks<T>& local, Range share, std::size_t total_chunks, const std::vector<TensorView<T>>& out,
             Ready ready = {}) {
    if (started_) throw ConfigError("parcnn::mpi::OrderedSum::start: the last sum was not finished");
    check_share(share, total_chunks);
    local_ = &local;
    share_ = share;
    out_ = out;
    ready_ = std::move(ready);
    plan_buckets();
    receives_ = share.begin > 0;                   // chunks come before this rank's
    sends_ = rank_ + 1 < ranks_ && share.end > 0;  // the next rank's chunks come after a sum
    if (done_.size() != out.size()) done_ = std::vector<std::atomic<std::size_t>>(out.size());
    for (auto& d : done_) d.store(0, std::memory_order_relaxed);
    summed_ = delivered_ = summed_early_ = delivered_early_ = 0;
    waited_ = 0;
    local_checked_ = false;
    caller_ = std::this_thread::get_id();
    const std::size_t K = buckets_.size();
    started_ = true;
    if (shared_) {
      make_window();  // collective, when the parameters change
      ++step_;
      // A buffer of this step's parity is free once every rank has finished the step two before.
      for (int r = 0; r < ranks_; ++r) spin_until(*peer(r).finished, step_ - std::min<std::uint64_t>(step_, 2));
    } else {
      received_.assign(K, MPI_REQUEST_NULL);
      sent_.assign(K, MPI_REQUEST_NULL);
      total_.assign(K, MPI_REQUEST_NULL);
      if (receives_)
        for (std::size_t k = 0; k < K; ++k)
          check(MPI_Irecv(running(k), int(buckets_[k].count), datatype<T>(), rank_ - 1, int(k % 32768), comm_, &received_[k]),
                "MPI_Irecv");
    }
    const std::lock_guard<std::mutex> lock(mpi_);
    progress();  // a rank without chunks has nothing to wait for
  }

  // This rank's `chunks` have finished parameters [first, first + count): the buckets they complete go
  // as far as they can without waiting.
  void finished(std::size_t first, std::size_t count, Range chunks) override {
    if (!started_) return;
    for (std::size_t p = first; p < first + count && p < done_.size(); ++p)
      done_[p].fetch_add(chunks.size(), std::memory_order_acq_rel);
    if (!shared_ && thread_level_ < MPI_THREAD_SERIALIZED && std::this_thread::get_id() != caller_) return;
    // A thread already at it goes round once more for these chunks when it lets go.
    pending_.store(true, std::memory_order_release);
    while (pending_.load(std::memory_order_acquire)) {
      const std::unique_lock<std::mutex> lock(mpi_, std::try_to_lock);
      if (!lock.owns_lock()) return;
      pending_.store(false, std::memory_order_relaxed);
      progress();
    }
  }

  // Sums, passes on and takes in what is left, waiting where it must, and runs ready() for every bucket
  // still to come. The local chunks are final now, whatever finished() was told. Returns the seconds
  // this rank waited: for the ranks before it, for the totals, for its sums to leave.
  double finish() {
    if (!started_) throw ConfigError("parcnn::mpi::OrderedSum::finish: no sum was started");
    const std::lock_guard<std::mutex> lock(mpi_);
    const std::size_t K = buckets_.size();
    for (; summed_ < K; ++summed_) {
      await_before(summed_);
      sum_bucket(summed_);
    }
    for (; delivered_ < K; ++delivered_) {
      await_total(delivered_);
      deliver(delivered_);
    }
    if (shared_)
      peer(rank_).finished->store(step_, std::memory_order_release);
    else
      for (std::size_t k = 0; k < K; ++k) wait(&sent_[k], "MPI_Wait (a sum sent on)");
    started_ = false;
    return waited_;
  }

  // A sum given up after an exception on this rank: the receives not yet matched are cancelled, so that
  // no message lands in freed memory. The other ranks are not told: they wait for this one, as in any
  // MPI program after an error on one rank (end the program with MPI_Abort).
  void abandon() noexcept {
    if (!started_) return;
    started_ = false;
    for (MPI_Request& r : received_)
      if (r != MPI_REQUEST_NULL) {
        MPI_Cancel(&r);
        MPI_Wait(&r, MPI_STATUS_IGNORE);
      }
  }

  // Of the last sum: the buckets summed, and those delivered, before finish() (while the backward pass
  // ran), and all of them.
  std::size_t summed_early() const { return summed_early_; }
  std::size_t delivered_early() const { return delivered_early_; }
  std::size_t buckets() const { return buckets_.size(); }

  // Throws ConfigError unless `share` is this rank's chunk_share of `total_chunks` (at least one).
  void check_share(Range share, std::size_t total_chunks) const {
    const Range expected = chunk_share(total_chunks, ranks_, rank_);
    if (share.begin != expected.begin || share.end != expected.end)
      throw ConfigError("parcnn::mpi::OrderedSum: rank " + std::to_string(rank_) + " holds chunks [" +
                        std::to_string(share.begin) + ", " + std::to_string(share.end) + "); chunk_share gives [" +
                        std::to_string(expected.begin) + ", " + std::to_string(expected.end) + ") of " +
                        std::to_string(total_chunks));
    if (total_chunks == 0) throw ConfigError("parcnn::mpi::OrderedSum: no chunks to sum");
  }

  // Throws unless `local` holds the chunks of `share` for parameters of `out`'s shapes.
  void check_local(const GradientChunks<T>& local, Range share, const std::vector<TensorView<T>>& out) const {
    if (local.chunks() < share.size())
      throw ConfigError("parcnn::mpi::OrderedSum: rank " + std::to_string(rank_) + " holds " +
                        std::to_string(local.chunks()) + " chunks for its " + std::to_string(share.size()));
    if (share.size() == 0 && local.parameters() == 0) return;  // reads none
    if (out.size() != local.parameters())
      throw ShapeError("parcnn::mpi::OrderedSum: " + std::to_string(out.size()) + " outputs for " +
                       std::to_string(local.parameters()) + " parameters");
    for (std::size_t p = 0; p < out.size(); ++p)
      if (out[p].shape() != local.shape(p))
        throw ShapeError("parcnn::mpi::OrderedSum: parameter " + std::to_string(p) + " has shape " +
                         local.shape(p).str() + ", output " + out[p].shape().str());
  }

 private:
  struct Bucket {
    std::size_t p, begin, count, offset;  // offset: in the running sums, all parameters end to end
  };

  // A rank's part of the shared window: when it last finished a step, the step each bucket's running
  // sum was last written for, and its running sums for even and odd steps.
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "counters shared between processes must be lock-free");
  struct Peer {
    std::atomic<std::uint64_t>* finished = nullptr;
    std::atomic<std::uint64_t>* flags = nullptr;
    T* sums[2] = {nullptr, nullptr};
  };

  // Parameter by parameter from the last (the order a backward pass finishes them), each in buckets.
  void plan_buckets() {
    buckets_.clear();
    std::size_t offset = 0;
    for (std::size_t q = out_.size(); q-- > 0;)
      for (std::size_t b = 0; b < out_[q].size(); b += bucket_elements_) {
        const std::size_t count = std::min(bucket_elements_, out_[q].size() - b);
        buckets_.push_back({q, b, count, offset});
        offset += count;
      }
    elements_ = offset;
    if (!shared_ && rank_ != ranks_ - 1) partial_.resize(offset);
  }

  // Over messages, where bucket k's running sum is made (the last rank makes the total in place); over
  // shared memory, this rank's sum for this step in the window.
  T* running(std::size_t k) {
    const Bucket& b = buckets_[k];
    if (shared_) return peer(rank_).sums[step_ & 1] + b.offset;
    return rank_ == ranks_ - 1 ? out_[b.p].data() + b.begin : partial_.data() + b.offset;
  }

  // Buckets in order as far as they go without waiting: summed once this rank's chunks are final and the
  // ranks before have passed theirs on, delivered once their totals are in.
  void progress() {
    const std::size_t K = buckets_.size();
    for (; summed_ < K; ++summed_, ++summed_early_) {
      if (done_[buckets_[summed_].p].load(std::memory_order_acquire) < share_.size()) break;
      if (!before_in(summed_)) break;
      sum_bucket(summed_);
    }
    for (; delivered_ < summed_ && total_in(delivered_); ++delivered_, ++delivered_early_) deliver(delivered_);
  }

  // Whether bucket k's sum of the ranks before this one is here (always, on a rank that receives none),
  // and its total; without waiting, or waiting (timed).
  bool before_in(std::size_t k) {
    if (!receives_) return true;
    return shared_ ? peer(rank_ - 1).flags[k].load(std::memory_order_acquire) >= step_
                   : test(&received_[k], "MPI_Test (the sum of the ranks before)");
  }
  void await_before(std::size_t k) {
    if (!receives_) return;
    if (shared_)
      spin_until(peer(rank_ - 1).flags[k], step_);
    else
      wait(&received_[k], "MPI_Wait (the sum of the ranks before)");
  }
  bool total_in(std::size_t k) {
    return shared_ ? peer(ranks_ - 1).flags[k].load(std::memory_order_acquire) >= step_
                   : test(&total_[k], "MPI_Test (a bucket's total)");
  }
  void await_total(std::size_t k) {
    if (shared_)
      spin_until(peer(ranks_ - 1).flags[k], step_);
    else
      wait(&total_[k], "MPI_Wait (a bucket's total)");
  }

  Peer& peer(int r) { return peers_[std::size_t(r)]; }

  // Bucket k: this rank's chunks added to the sum of the ranks before (the first rank's copied) and
  // passed on: over messages sent to the next rank, the total's broadcast started (sent by the last rank,
  // received by the others); over shared memory, marked written for the next rank and the totals' readers.
  void sum_bucket(std::size_t k) {
    if (!local_checked_) {
      check_local(*local_, share_, out_);
      local_checked_ = true;
    }
    const Bucket& b = buckets_[k];
    T* __restrict to = running(k);
    // Over messages the sum of the ranks before arrived in `to`; over shared memory it is read in place.
    const T* before = shared_ && receives_ ? peer(rank_ - 1).sums[step_ & 1] + b.offset : nullptr;
    if (before && share_.size() == 0) std::copy(before, before + b.count, to);
    for (std::size_t c = 0; c < share_.size(); ++c) {
      const T* __restrict from = local_->grad(c, b.p).data() + b.begin;
      if (c == 0 && before)
        for (std::size_t j = 0; j < b.count; ++j) to[j] = before[j] + from[j];
      else if (c == 0 && !receives_)
        std::copy(from, from + b.count, to);
      else
        for (std::size_t j = 0; j < b.count; ++j) to[j] += from[j];
    }
    if (shared_) {
      peer(rank_).flags[k].store(step_, std::memory_order_release);
      return;
    }
    if (sends_) check(MPI_Isend(to, int(b.count), datatype<T>(), rank_ + 1, int(k % 32768), comm_, &sent_[k]), "MPI_Isend");
    check(MPI_Ibcast(out_[b.p].data() + b.begin, int(b.count), datatype<T>(), ranks_ - 1, comm_, &total_[k]), "MPI_Ibcast");
  }

  // Bucket k's total is in: over shared memory, copied from the last rank's window; then ready().
  void deliver(std::size_t k) {
    const Bucket& b = buckets_[k];
    if (shared_) {
      const T* total = peer(ranks_ - 1).sums[step_ & 1] + b.offset;
      std::copy(total, total + b.count, out_[b.p].data() + b.begin);
    }
    if (ready_) ready_(b.p, b.begin, b.count);
  }

  // The shared window for this layout of buckets, made again (collectively) when it changes: each rank's
  // step counters, then its running sums for even and odd steps.
  void make_window() {
    const std::size_t K = buckets_.size();
    if (win_ != MPI_WIN_NULL && window_elements_ == elements_ && window_buckets_ == K) return;
    free_window();
    const std::size_t counters = 1 + K, header = (counters * sizeof(std::uint64_t) + 63) / 64 * 64;
    const std::size_t bytes = header + 2 * elements_ * sizeof(T);
    MPI_Info info = MPI_INFO_NULL;
    check(MPI_Info_create(&info), "MPI_Info_create");
    MPI_Info_set(info, "alloc_shared_noncontig", "true");  // each rank's part on its own pages
    void* base = nullptr;
    const int made = MPI_Win_allocate_shared(MPI_Aint(bytes), 1, info, comm_, &base, &win_);
    MPI_Info_free(&info);
    check(made, "MPI_Win_allocate_shared");
    auto* counter = static_cast<std::atomic<std::uint64_t>*>(base);
    for (std::size_t i = 0; i < counters; ++i) new (counter + i) std::atomic<std::uint64_t>(0);
    check(MPI_Barrier(comm_), "MPI_Barrier");  // every rank's counters made before any is read
    peers_.assign(std::size_t(ranks_), Peer{});
    for (int r = 0; r < ranks_; ++r) {
      MPI_Aint size = 0;
      int unit = 0;
      void* at = nullptr;
      check(MPI_Win_shared_query(win_, r, &size, &unit, &at), "MPI_Win_shared_query");
      Peer& part = peer(r);
      part.finished = static_cast<std::atomic<std::uint64_t>*>(at);
      part.flags = part.finished + 1;
      part.sums[0] = reinterpret_cast<T*>(static_cast<char*>(at) + header);
      part.sums[1] = part.sums[0] + elements_;
    }
    window_elements_ = elements_;
    window_buckets_ = K;
    step_ = 0;
  }

  void free_window() noexcept {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (win_ != MPI_WIN_NULL && !finalized) MPI_Win_free(&win_);
    win_ = MPI_WIN_NULL;
    peers_.clear();
  }

  // Waits (timed) until `counter` reaches `step`: spins a while, then gives the core away between looks
  // (ranks may share cores).
  void spin_until(const std::atomic<std::uint64_t>& counter, std::uint64_t step) {
    if (counter.load(std::memory_order_acquire) >= step) return;
    const auto t0 = std::chrono::steady_clock::now();
    for (int spins = 0; counter.load(std::memory_order_acquire) < step; ++spins)
      if (spins > 256) std::this_thread::yield();
    waited_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  bool test(MPI_Request* request, const char* what) {
    int flag = 0;
    check(MPI_Test(request, &flag, MPI_STATUS_IGNORE), what);
    return flag != 0;
  }

  void wait(MPI_Request* request, const char* what) {
    const auto t0 = std::chrono::steady_clock::now();
    check(MPI_Wait(request, MPI_STATUS_IGNORE), what);
    waited_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  MPI_Comm comm_;
  std::size_t bucket_elements_;
  int rank_ = 0, ranks_ = 1, thread_level_ = MPI_THREAD_SINGLE;
  const GradientChunks<T>* local_ = nullptr;
  Range share_;
  std::vector<TensorView<T>> out_;
  Ready ready_;
  std::vector<Bucket> buckets_;
  std::size_t elements_ = 0;  // of all buckets
  std::vector<T> partial_;    // over messages: the running sums a rank other than the last sends on
  bool receives_ = false, sends_ = false, started_ = false, local_checked_ = false;
  std::vector<std::atomic<std::size_t>> done_;  // per parameter: this rank's chunks that finished it
  std::size_t summed_ = 0, delivered_ = 0, summed_early_ = 0, delivered_early_ = 0;
  std::vector<MPI_Request> received_, sent_, total_;
  // Over shared memory: the window, every rank's part of it, the layout it was made for, this step.
  bool shared_ = false;
  MPI_Win win_ = MPI_WIN_NULL;
  std::vector<Peer> peers_;
  std::size_t window_elements_ = 0, window_buckets_ = 0;
  std::uint64_t step_ = 0;
  std::mutex mpi_;  // one thread at a time in progress()
  std::atomic<bool> pending_{false};  // chunks finished since the thread in progress() looked
  std::thread::id caller_;
  double waited_ = 0;
};

// out[p] = parameter p's gradient summed over all `total_chunks` chunks in chunk order, on every rank of
// `comm`, from this rank's chunks `share` in `local` (OrderedSum, started and finished at once; ready as
// there). Returns the seconds this rank waited for the ranks before it and for the totals.
template <class T>
double ordered_sum(const GradientChunks<T>& local, Range share, std::size_t total_chunks, const std::vector<TensorView<T>>& out,
                   MPI_Comm comm, std::size_t bucket_elements = OrderedSum<T>::default_bucket_elements,
                   typename OrderedSum<T>::Ready ready = {}, Transport transport = Transport::automatic) {
  OrderedSum<T> sum(comm, bucket_elements, transport);
  sum.check_share(share, total_chunks);
  sum.check_local(local, share, out);  // before any message
  sum.start(local, share, total_chunks, out, std::move(ready));
  return sum.finish();
}

}  // namespace parcnn::mpi
