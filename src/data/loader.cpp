// TokenLoader: (B, T + 1) windows of a shard, random (seeded, counter-based) or sequential.
#include "nabla/data/loader.h"

#include "nabla/core/error.h"
#include "nabla/core/rng.h"

namespace nabla::data {

TokenLoader::TokenLoader(Shard shard, int64_t batch_size, int64_t block_size, Sampling sampling,
                         uint64_t seed)
    : shard_(std::move(shard)),
      batch_size_(batch_size),
      block_size_(block_size),
      sampling_(sampling),
      seed_(seed) {
  NABLA_CHECK(batch_size > 0 && block_size > 0, "TokenLoader: batch size and block size must be "
              "positive, got ", batch_size, " and ", block_size);
  NABLA_CHECK(shard_.size() > block_size, "TokenLoader: ", shard_.source(), " holds ",
              shard_.size(), " tokens, fewer than one window of block_size + 1 = ",
              block_size + 1, "\n---> HINT: use a smaller --block-size or more text");
}

int64_t TokenLoader::num_windows() const {
  if (sampling_ == Sampling::Random) return shard_.size() - block_size_;
  return (shard_.size() - 1) / block_size_;
}

int64_t TokenLoader::num_batches() const {
  return (num_windows() + global_batch_size() - 1) / global_batch_size();
}

void TokenLoader::distribute(int64_t rank, int64_t world_size) {
  NABLA_CHECK(world_size > 0 && rank >= 0 && rank < world_size, "TokenLoader: rank ", rank,
              " is out of range for a world of ", world_size);
  rank_ = rank;
  world_size_ = world_size;
}

void TokenLoader::set_position(int64_t batches) {
  NABLA_CHECK(batches >= 0, "TokenLoader: position must be >= 0, got ", batches);
  position_ = batches;
}

int64_t TokenLoader::window_start(int64_t batch, int64_t row) const {
  const auto windows = static_cast<uint64_t>(num_windows());
  // The row's index in the global batch: a rank's rows are its slice of it.
  const uint64_t counter =
      static_cast<uint64_t>(batch) * static_cast<uint64_t>(global_batch_size()) +
      static_cast<uint64_t>(rank_ * batch_size_ + row);
  if (sampling_ == Sampling::Sequential) return static_cast<int64_t>(counter % windows) * block_size_;
  const auto r = philox4x32(seed_, counter);
  // 64 random bits modulo the window count: the bias is below windows / 2^64.
  const uint64_t bits = (uint64_t{r[0]} << 32) | r[1];
  return static_cast<int64_t>(bits % windows);
}

Tensor TokenLoader::next() {
  const int64_t row_len = block_size_ + 1;
  Tensor out = Tensor::empty({batch_size_, row_len}, DType::I64);
  auto* p = out.data<int64_t>();
  for (int64_t b = 0; b < batch_size_; ++b) {
    shard_.read(window_start(position_, b), row_len, p + b * row_len);
  }
  ++position_;
  return out;
}

}  // namespace nabla::data
