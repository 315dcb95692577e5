// LLaMA (Touvron et al. 2023, arXiv:2302.13971; Meta's llama/model.py, llama2.c's run.c):
// pre-norm RMSNorm blocks, rotary embeddings on interleaved pairs, SwiGLU feed-forward,
// grouped-query attention, tied or separate output head. Parameters carry Meta's names:
// tok_embeddings, layers.N.attention.{wq,wk,wv,wo}, layers.N.feed_forward.{w1,w2,w3},
// layers.N.{attention_norm,ffn_norm}, norm, output (absent when tied to tok_embeddings).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nabla/io/json_config.h"
#include "nabla/io/llama2c.h"
#include "nabla/io/weights.h"
#include "nabla/models/causal_lm.h"
#include "nabla/nn/embedding.h"
#include "nabla/nn/linear.h"
#include "nabla/nn/norm.h"

namespace nabla::models {

/// Hyper-parameters, with Meta's ModelArgs names and defaults (Llama 2 7B).
struct LlamaConfig {
  int64_t dim = 4096;
  int64_t n_layers = 32;
  int64_t n_heads = 32;
  int64_t n_kv_heads = 0;  ///< 0: n_heads (no GQA)
  int64_t vocab_size = 32000;
  /// The SwiGLU width; 0 computes it from multiple_of / ffn_dim_multiplier as Meta does.
  int64_t hidden_dim = 0;
  int64_t multiple_of = 256;
  std::optional<double> ffn_dim_multiplier = std::nullopt;
  double norm_eps = 1e-5;
  double rope_theta = 10000.0;
  int64_t max_seq_len = 2048;
  bool tie_embeddings = false;  ///< output shares tok_embeddings.weight

  int64_t head_dim() const { return dim / n_heads; }
  int64_t kv_heads() const { return n_kv_heads > 0 ? n_kv_heads : n_heads; }
  /// hidden_dim, or Meta's FeedForward rule: h = int(2 * 4 * dim / 3), times
  /// ffn_dim_multiplier (truncated), rounded up to a multiple of multiple_of.
  int64_t ffn_hidden_dim() const;
  /// Throws nabla::Error for non-positive sizes, dim % n_heads, n_heads % n_kv_heads or an
  /// odd head_dim (rotary rotates pairs).
  void validate() const;
  /// Throws nabla::Error naming the model, its head counts and world_size when the model
  /// cannot be split over world_size ranks by tensor parallelism: each rank holds whole
  /// key/value heads with their query heads, so n_kv_heads must be divisible by world_size.
  void check_tensor_parallel(int world_size) const;

  /// From Meta's params.json (dim, n_layers, n_heads, n_kv_heads, vocab_size, multiple_of,
  /// ffn_dim_multiplier, norm_eps, rope_theta). Llama 2's vocab_size is -1 (taken from the
  /// tokenizer); it is kept as is here and set from the checkpoint by the loader.
  static LlamaConfig from_params_json(const io::JsonConfig& params);
  /// From a Hugging Face LlamaForCausalLM config.json (hidden_size, intermediate_size,
  /// num_hidden_layers, num_attention_heads, num_key_value_heads, vocab_size, rms_norm_eps,
  /// rope_theta, max_position_embeddings, tie_word_embeddings).
  static LlamaConfig from_hf_config(const io::JsonConfig& config);
  /// From a llama2.c header (norm_eps 1e-5, theta 10000 as run.c uses).
  static LlamaConfig from_llama2c(const io::Llama2cConfig& config);
  /// A Hugging Face LlamaForCausalLM config.json that from_hf_config reads back (a Meta
  /// multiple_of / ffn_dim_multiplier rule is written as its intermediate_size).
  std::string to_hf_json() const;
};

/// One pre-norm block: h = x + attention(attention_norm(x)); out = h + ffn(ffn_norm(h)).
class LlamaBlock : public nn::Module {
 public:
  LlamaBlock(const LlamaConfig& config, int64_t layer_id);
  /// x (B, T, dim); cos, sin (T, head_dim / 2) for positions start_pos..; -> (B, T, dim).
  Tensor forward(
      const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t start_pos, KVCache* cache);
  using nn::Module::forward;
  std::string name() const override { return "TransformerBlock"; }
  /// Keeps this rank's heads and hidden units (see Llama::shard_for_tensor_parallel).
  void shard_for_tensor_parallel(dist::Communicator& comm);

  std::shared_ptr<nn::Linear> wq, wk, wv, wo;  ///< registered under attention.*
  std::shared_ptr<nn::Linear> w1, w2, w3;      ///< registered under feed_forward.*
  std::shared_ptr<nn::RMSNorm> attention_norm, ffn_norm;

 private:
  Tensor attention(
      const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t start_pos, KVCache* cache);
  int64_t layer_id_, n_heads_, n_kv_heads_, head_dim_;  // heads: this rank's
  std::shared_ptr<nn::Module> attention_, feed_forward_;  // the parents of wq.. and w1..
  dist::Communicator* tp_ = nullptr;                      // set when split over ranks
};

/// Rotary position embedding on interleaved pairs (x[2i], x[2i+1]) as Meta's
/// apply_rotary_emb and llama2.c do: the rotary_embedding op with the tables in x's dtype.
/// x (B, T, H, D); cos, sin (T, D / 2); differentiable.
Tensor apply_rotary_emb(const Tensor& x, const Tensor& cos, const Tensor& sin);

/// cos and sin tables (max_seq_len, head_dim / 2) of angle pos * theta^(-2i / head_dim), in
/// f32 arithmetic as torch.polar / run.c's cosf(pos * freq).
std::pair<Tensor, Tensor> rope_tables(int64_t head_dim, int64_t max_seq_len, double theta);

/// Renames a Hugging Face Llama checkpoint's tensors (model.layers.N.self_attn.q_proj.weight,
/// ...) to Meta's and undoes the conversion script's q/k row permutation. Unknown names throw
/// IoError naming the tensor and file.
io::Weights llama_weights_from_hf(const io::Weights& hf, const LlamaConfig& config);

class Llama : public CausalLM {
 public:
  /// Random initialisation (PyTorch's defaults for Embedding/Linear); load weights after.
  explicit Llama(const LlamaConfig& config);

  using CausalLM::forward;
  /// tokens (B, T) int -> logits (B, T, vocab_size) f32. Token ids outside [0, vocab) and
  /// positions past max_seq_len throw nabla::Error.
  Tensor forward(const Tensor& tokens, int64_t start_pos, KVCache* cache) override;
  KVCache make_cache(int64_t max_batch, int64_t max_seq) const override;
  int64_t vocab_size() const override { return config_.vocab_size; }
  int64_t max_seq_len() const override { return config_.max_seq_len; }
  std::string name() const override { return "Transformer"; }
  const LlamaConfig& config() const { return config_; }
  /// Megatron-style tensor parallelism over comm's ranks (CausalLM's contract): wq, wk, wv
  /// column-parallel by heads, w1 and w3 by hidden units; wo and w2 row-parallel, their
  /// partial outputs summed across ranks; the output head (or the tied embedding's copy)
  /// column-parallel over the vocabulary, its logits all-gathered. Embedding and norms stay
  /// whole on every rank. Throws as LlamaConfig::check_tensor_parallel.
  void shard_for_tensor_parallel(dist::Communicator& comm) override;
  /// CausalLM's contract; a tied head gets a packed copy of the embedding's rows.
  void pack_weights(WeightFormat format) override;

  /// Copies every tensor of w (Meta names, any floating dtype, converted to f32) into the
  /// parameters; a missing, unexpected or mis-shaped tensor throws IoError naming it and the
  /// file.
  void load_weights(const io::Weights& w);
  /// The parameters under Hugging Face's names and layouts (q_proj/k_proj rows permuted as
  /// convert_llama_weights_to_hf.py does), adapters left out, no lm_head when tied. Views of
  /// the parameters, except the permuted q/k copies.
  std::vector<std::pair<std::string, Tensor>> hf_state_dict() const;

  /// Builds from a llama2.c checkpoint (v0/v1/v2). max_seq_len 0 keeps the header's seq_len.
  static std::shared_ptr<Llama> from_llama2c(const std::string& path, int64_t max_seq_len = 0);
  /// Builds from a Hugging Face checkpoint: path is its folder (config.json plus
  /// model.safetensors or model.safetensors.index.json and shards), a .safetensors file or an
  /// index file beside config.json. f32, f16 and bf16 tensors are converted to f32.
  static std::shared_ptr<Llama> from_hf(const std::string& path, int64_t max_seq_len = 0);
  /// Builds from Meta's layout: ckpt_dir/params.json and consolidated.00.pth .. NN.pth
  /// (torch.save zips; model-parallel shards are merged along each weight's split dim).
  /// max_seq_len 0 keeps params.json's (or 2048).
  static std::shared_ptr<Llama> from_meta(const std::string& ckpt_dir, int64_t max_seq_len = 0);

  std::shared_ptr<nn::Embedding> tok_embeddings;
  std::vector<std::shared_ptr<LlamaBlock>> layers;
  std::shared_ptr<nn::RMSNorm> norm;
  std::shared_ptr<nn::Linear> output;  ///< null when tied to tok_embeddings

 private:
  LlamaConfig config_;
  Tensor rope_cos_, rope_sin_;     // (max_seq_len, head_dim / 2)
  dist::Communicator* tp_ = nullptr;  // set when split over ranks
  Tensor head_shard_;              // (ceil(V / N), dim): this rank's rows of a tied head
  std::shared_ptr<const PackedWeight> packed_head_;  // a tied head, packed (pack_weights)
};

/// Merges Meta's model-parallel shards (consolidated.00.pth, ...) into whole tensors: wq, wk,
/// wv, w1, w3 and output along dim 0, wo and w2 along dim 1, tok_embeddings along dim 1 (Llama
/// 2) or 0 (Llama 3, told apart by config.dim); norms are taken from the first shard and
/// rope.freqs dropped. A tensor missing from a shard throws IoError naming it and the file.
io::Weights merge_meta_shards(const std::vector<io::Weights>& shards, const LlamaConfig& config);

/// Loads a Llama from any supported checkpoint: a folder with params.json (Meta), a folder
/// with config.json, a .safetensors or .index.json file (Hugging Face), otherwise a llama2.c
/// .bin file.
std::shared_ptr<Llama> load_llama(const std::string& path, int64_t max_seq_len = 0);

}  // namespace nabla::models
