// The interface every causal language model in nabla offers (GPT-2, Llama), so that one
// training loop, one generation engine and one LoRA injector serve them all.
#pragma once

#include <cstdint>
#include <vector>

#include "nabla/core/tensor.h"
#include "nabla/dist/communicator.h"
#include "nabla/nn/module.h"
#include "nabla/ops/quantized.h"

namespace nabla::models {

/// Keys and values of every attention layer for the positions already seen, preallocated
/// for max_batch rows of max_seq positions: k[l], v[l] are [max_batch, n_kv_heads, max_seq,
/// head_dim]. A model's forward with a cache writes positions [start_pos, start_pos + T)
/// of rows [0, B) and attends over [0, start_pos + T).
struct KVCache {
  std::vector<Tensor> k, v;
  int64_t max_batch = 0;
  int64_t max_seq = 0;
};

/// A decoder-only language model: token ids in, next-token logits out.
class CausalLM : public nn::Module {
 public:
  /// tokens: integer [B, T] at positions start_pos .. start_pos + T - 1.
  /// Returns logits [B, T, vocab_size] (f32). Without a cache start_pos must be 0 and the
  /// whole sequence is attended causally (training); with one, see KVCache.
  virtual Tensor forward(const Tensor& tokens, int64_t start_pos, KVCache* cache) = 0;

  /// A zeroed cache for up to max_batch rows of max_seq positions (max_seq <= max_seq_len()).
  virtual KVCache make_cache(int64_t max_batch, int64_t max_seq) const = 0;

  virtual int64_t vocab_size() const = 0;
  /// The longest sequence the model's positions support (GPT-2's n_positions, Llama's
  /// max_seq_len).
  virtual int64_t max_seq_len() const = 0;

  Tensor forward(const Tensor& tokens) override { return forward(tokens, 0, nullptr); }

  /// Tensor-parallel inference (models/tensor_parallel.h): keeps this rank's part of every
  /// split weight, so that forward, called by every rank of comm with the same tokens, gives
  /// every rank the whole model's logits. Call it on the loaded (and LoRA-merged) model;
  /// afterwards the model is frozen, for inference only, and make_cache holds this rank's
  /// key/value heads. A world of one changes nothing. Throws nabla::Error when the model
  /// cannot be split over comm's ranks, and by default for any model that does not split.
  virtual void shard_for_tensor_parallel(dist::Communicator& comm);

  /// Holds the weights for inference in fewer bytes (bf16, or int8 blocks: ops/quantized.h):
  /// every Linear (nn::pack_linear_weights) and, where the head is tied to the embedding, a
  /// packed copy of the head (the embedding stays f32 for its lookups). Call it last, after
  /// any LoRA merge and tensor-parallel split; a second call throws.
  virtual void pack_weights(WeightFormat format);
};

}  // namespace nabla::models
