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

/// Copies src's values of tensors into every other rank's, one broadcast per tensor (used
/// once, at the start of training: parameters and buffers).
void broadcast_tensors(Communicator& comm, const std::vector<Tensor>& tensors, int src = 0);

/// Averages the .grad() of a fixed list of parameters across ranks. Parameters are packed in
/// order into flat buckets of at most bucket_bytes (a larger parameter gets a bucket of its
/// own; a bucket holds one dtype): per bucket one copy in, one all-reduce, one copy out.
class GradReducer {
 public:
  /// params: f32 or f64 tensors, the same list on every rank.
  GradReducer(Communicator& comm, std::vector<Tensor> params,
              int64_t bucket_bytes = kDefaultBucketBytes);

  /// Replaces every parameter's gradient with its mean over the ranks. A parameter without a
  /// gradient counts as zeros (and gets one). A world of one leaves everything untouched.
  void all_reduce_grads();

  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }
  /// Seconds spent in all_reduce_grads (copies and communication) since construction.
  double seconds() const { return seconds_; }

 private:
  struct Bucket {
    std::vector<size_t> params;     // indices into params_
    std::vector<int64_t> offsets;   // element offset of each in buffer
    Tensor buffer;                  // (numel of all,) flat, the bucket's dtype
  };
  Communicator& comm_;
  std::vector<Tensor> params_;
  std::vector<Bucket> buckets_;
  double seconds_ = 0;
};

}  // namespace nabla::dist
