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
#pragma once

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>
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

// Called as ordered_sum(...)'s `ready`: nothing to do with a bucket once its total is in.
struct NoAction {
  void operator()(std::size_t, std::size_t, std::size_t) const {}
};

// out[p] = parameter p's gradient summed over all `total_chunks` chunks in chunk order, on every rank of
// `comm`; this rank holds chunks `share` (chunk_share) as the first share.size() chunks of `local`, in
// order (a rank whose share is empty adds nothing, but takes part). The last rank broadcasts each bucket
// as soon as it has summed it, and ready(p, begin, count) runs on every rank as soon as the total of
// elements [begin, begin + count) of parameter p is in out[p] (an optimizer's update of them, say), in
// bucket order. Returns the seconds this rank waited for the ranks before it and for the totals.
template <class T, class Ready = NoAction>
double ordered_sum(const GradientChunks<T>& local, Range share, std::size_t total_chunks, const std::vector<TensorView<T>>& out,
                   MPI_Comm comm, std::size_t bucket_elements = std::size_t(1) << 16, Ready&& ready = Ready{}) {
  int rank = 0, ranks = 1;
  check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  check(MPI_Comm_size(comm, &ranks), "MPI_Comm_size");
  const Range expected = chunk_share(total_chunks, ranks, rank);
  if (share.begin != expected.begin || share.end != expected.end || local.chunks() < share.size())
    throw ConfigError("parcnn::mpi::ordered_sum: rank " + std::to_string(rank) + " holds " + std::to_string(local.chunks()) +
                      " chunks for [" + std::to_string(share.begin) + ", " + std::to_string(share.end) + "); chunk_share gives [" +
                      std::to_string(expected.begin) + ", " + std::to_string(expected.end) + ") of " +
                      std::to_string(total_chunks));
  if (total_chunks == 0) throw ConfigError("parcnn::mpi::ordered_sum: no chunks to sum");
  if (out.size() != local.parameters())
    throw ShapeError("parcnn::mpi::ordered_sum: " + std::to_string(out.size()) + " outputs for " +
                     std::to_string(local.parameters()) + " parameters");
  for (std::size_t p = 0; p < out.size(); ++p)
    if (out[p].shape() != local.shape(p))
      throw ShapeError("parcnn::mpi::ordered_sum: parameter " + std::to_string(p) + " has shape " + local.shape(p).str() +
                       ", output " + out[p].shape().str());
  if (bucket_elements == 0 || bucket_elements > std::size_t(1) << 30)
    throw ConfigError("parcnn::mpi::ordered_sum: a bucket of " + std::to_string(bucket_elements) + " elements");

  struct Bucket {
    std::size_t p, begin, count;
  };
  std::vector<Bucket> buckets;
  for (std::size_t p = 0; p < out.size(); ++p)
    for (std::size_t b = 0; b < out[p].size(); b += bucket_elements)
      buckets.push_back({p, b, std::min(bucket_elements, out[p].size() - b)});
  const auto at = [&](const Bucket& b) { return out[b.p].data() + b.begin; };

  const bool receives = share.begin > 0;                 // chunks come before this rank's
  const bool sends = rank + 1 < ranks && share.end > 0;  // the next rank's chunks come after a sum
  const int last = ranks - 1;
  using Clock = std::chrono::steady_clock;
  double waited = 0;
  const auto wait = [&](MPI_Request* request, const char* what) {
    const Clock::time_point t0 = Clock::now();
    check(MPI_Wait(request, MPI_STATUS_IGNORE), what);
    waited += std::chrono::duration<double>(Clock::now() - t0).count();
  };
  const std::size_t K = buckets.size();
  std::vector<MPI_Request> received(K, MPI_REQUEST_NULL), sent(K, MPI_REQUEST_NULL), total(K, MPI_REQUEST_NULL);
  if (receives)
    for (std::size_t k = 0; k < K; ++k)
      check(MPI_Irecv(at(buckets[k]), int(buckets[k].count), datatype<T>(), rank - 1, int(k % 32768), comm, &received[k]),
            "MPI_Irecv");
  for (std::size_t k = 0; k < K; ++k) {
    const Bucket& b = buckets[k];
    T* __restrict to = at(b);
    if (receives) wait(&received[k], "MPI_Wait (the sum of the ranks before)");
    for (std::size_t c = 0; c < share.size(); ++c) {
      const T* __restrict from = local.grad(c, b.p).data() + b.begin;
      if (!receives && c == 0)
        std::copy(from, from + b.count, to);
      else
        for (std::size_t j = 0; j < b.count; ++j) to[j] += from[j];
    }
    if (sends) check(MPI_Isend(to, int(b.count), datatype<T>(), rank + 1, int(k % 32768), comm, &sent[k]), "MPI_Isend");
    // The last rank holds bucket k's total: to every rank at once, while it sums the next.
    if (rank == last) check(MPI_Ibcast(to, int(b.count), datatype<T>(), last, comm, &total[k]), "MPI_Ibcast");
  }
  // Every other rank takes the totals into the buckets it has sent on (collectives in the same order
  // everywhere: bucket by bucket).
  if (rank != last)
    for (std::size_t k = 0; k < K; ++k) {
      wait(&sent[k], "MPI_Wait (a sum sent on)");
      check(MPI_Ibcast(at(buckets[k]), int(buckets[k].count), datatype<T>(), last, comm, &total[k]), "MPI_Ibcast");
    }
  for (std::size_t k = 0; k < K; ++k) {
    wait(&total[k], "MPI_Wait (a bucket's total)");
    ready(buckets[k].p, buckets[k].begin, buckets[k].count);
  }
  return waited;
}

}  // namespace parcnn::mpi
