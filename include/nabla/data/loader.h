// Batches of token windows from a shard for language-model training: each row is T + 1
// consecutive tokens (inputs are row[:T], targets row[1:]), as nanoGPT's get_batch.
#pragma once

#include <cstdint>

#include "nabla/core/tensor.h"
#include "nabla/data/shard.h"

namespace nabla::data {

enum class Sampling {
  /// Each window starts at a uniformly random token in [0, N - T - 1], drawn from
  /// Philox(seed, counter) with one counter per row: batch k depends only on (seed, k).
  Random,
  /// Windows start at 0, T, 2T, ... (non-overlapping targets), B at a time in order; after
  /// the last full window the stream wraps to the start, so every batch has B rows.
  Sequential,
};

/// Yields (B, T + 1) int64 tensors from a shard. position() (batches yielded so far) is the
/// loader's whole state: set_position(k) makes the next batch the one a fresh loader yields
/// k-th, which is what an exact training resume needs.
class TokenLoader {
 public:
  TokenLoader(Shard shard, int64_t batch_size, int64_t block_size, Sampling sampling,
              uint64_t seed = 0);

  /// The next batch, (B, T + 1) int64.
  Tensor next();
  int64_t position() const { return position_; }
  void set_position(int64_t batches);
  void reset() { set_position(0); }
  /// Data parallelism (PyTorch's DistributedSampler): this loader then yields rows
  /// [rank * B, (rank + 1) * B) of a global batch of world_size * B rows, so world_size
  /// loaders with batch B together yield exactly the batches of one loader with batch
  /// world_size * B, and position() counts global batches on every rank.
  void distribute(int64_t rank, int64_t world_size);

  /// Sequential: batches in one pass over the windows (the last one wraps); Random: the
  /// number of distinct window starts.
  int64_t num_batches() const;
  int64_t num_windows() const;
  /// Rows per batch of this loader (of this rank when distributed).
  int64_t batch_size() const { return batch_size_; }
  /// Rows per batch over all ranks: batch_size() * world_size().
  int64_t global_batch_size() const { return batch_size_ * world_size_; }
  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_size_; }
  int64_t block_size() const { return block_size_; }
  const Shard& shard() const { return shard_; }

 private:
  int64_t window_start(int64_t batch, int64_t row) const;
  Shard shard_;
  int64_t batch_size_;
  int64_t block_size_;
  Sampling sampling_;
  uint64_t seed_;
  int64_t position_ = 0;
  int64_t rank_ = 0, world_size_ = 1;
};

}  // namespace nabla::data
