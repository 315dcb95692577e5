// Data-parallel training over a Communicator (PyTorch DistributedDataParallel's two jobs):
// every rank starts from rank 0's weights, and after each backward the gradients are
// averaged across ranks in buckets, so every rank applies the same update.
#pragma once

#include <cstdint>
#include <vector>

#include "nabla/core/tensor.h"
#include "nabla/dist/communicator.h"

namespace nabla::dist {

/// PyTorch DDP's bucket_cap_mb default: large enough that per-call latency is amortised,
/// small enough to overlap with the backward pass once buckets are reduced as they fill.
constexpr int64_t kDefaultBucketBytes = int64_t{25} << 20;
/// DDP's first-bucket cap (_DEFAULT_FIRST_BUCKET_BYTES): the first bucket (the last
/// parameters) is small, so that communication starts early in the backward pass.
constexpr int64_t kFirstBucketBytes = int64_t{1} << 20;

/// Copies src's values of tensors into every other rank's, one broadcast per tensor (used
/// once, at the start of training: parameters and buffers).
void broadcast_tensors(Communicator& comm, const std::vector<Tensor>& tensors, int src = 0);

/// Averages the .grad() of a fixed list of parameters across ranks (PyTorch DDP's Reducer).
/// Parameters are packed in reverse order, as the backward pass produces their gradients,
/// into flat buckets of at most bucket_bytes (a larger parameter gets a bucket of its own; a
/// bucket holds one dtype; the first at most min(bucket_bytes, kFirstBucketBytes)): per
/// bucket one copy in, one all-reduce, one copy out.
///
/// Overlap: after prepare_for_backward(), a post-accumulate-grad hook on each parameter marks
/// it ready, and a bucket whose parameters are all ready starts a non-blocking all-reduce
/// while the backward pass goes on. Buckets start strictly in order (MPI needs every rank
/// to start collectives in the same order), and all_reduce_grads() then waits for them. The
/// result is the same, bit for bit, as without overlap: the same sums of the same values.
class GradReducer {
 public:
  /// params: f32 or f64 leaf tensors, each once, the same list on every rank.
  GradReducer(Communicator& comm, std::vector<Tensor> params,
              int64_t bucket_bytes = kDefaultBucketBytes);
  /// Removes the hooks.
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  /// Call before the backward pass whose gradients are to be averaged (DDP outside no_sync:
  /// with gradient accumulation, the last micro-batch's); the buckets then start during it.
  void prepare_for_backward();
  /// Replaces every parameter's gradient with its mean over the ranks: starts the buckets not
  /// started yet (all of them without prepare_for_backward), waits for every one and copies
  /// the means out. A parameter without a gradient counts as zeros (and gets one). A world
  /// of one leaves everything untouched.
  void all_reduce_grads();

  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }
  /// The parameters (indices into params) of bucket b, in the order they are packed.
  const std::vector<size_t>& bucket_params(int64_t b) const;
  /// Seconds this rank spent on averaging since construction: in the hooks (copies in, starting
  /// all-reduces) and in all_reduce_grads (waiting, copies out).
  double seconds() const { return seconds_; }
  /// The part of seconds() spent in all_reduce_grads, after the backward pass: what overlap
  /// did not hide.
  double wait_seconds() const { return wait_seconds_; }

 private:
  struct Bucket {
    std::vector<size_t> params;     // indices into params_
    std::vector<int64_t> offsets;   // element offset of each in buffer
    Tensor buffer;                  // (numel of all,) flat, the bucket's dtype
    int64_t pending = 0;            // parameters not ready yet in this backward
    Work work;                      // its all-reduce, once started
  };
  void on_grad_ready(size_t param);
  void start_ready_buckets();
  void start(Bucket& b);

  Communicator& comm_;
  std::vector<Tensor> params_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;   // per parameter
  std::vector<char> ready_;         // per parameter, in this backward
  std::vector<uint64_t> hooks_;     // per parameter, its hook id (distributed only)
  bool armed_ = false;              // between prepare_for_backward and all_reduce_grads
  size_t next_start_ = 0;           // buckets [0, next_start_) have started
  double seconds_ = 0, wait_seconds_ = 0;
};

}  // namespace nabla::dist
