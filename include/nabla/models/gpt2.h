// GPT-2 (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners"), as
// Hugging Face's GPT2LMHeadModel and nanoGPT's model.py: pre-norm blocks, learned positions,
// GELU (tanh), head tied to the token embedding. Module names are HF's checkpoint keys
// (wte, wpe, h.N.{ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj}, ln_f).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nabla/core/rng.h"
#include "nabla/io/json_config.h"
#include "nabla/io/weights.h"
#include "nabla/models/causal_lm.h"
#include "nabla/nn/embedding.h"
#include "nabla/nn/linear.h"
#include "nabla/nn/norm.h"

namespace nabla::models {

/// GPT-2's hyperparameters, with the field names of Hugging Face's config.json, plus
/// qkv_bias (nabla's: bias on c_attn only, as in GPT-2) and tie_word_embeddings.
struct Gpt2Config {
  int64_t vocab_size = 50257;
  int64_t n_positions = 1024;  ///< longest sequence (learned position table rows)
  int64_t n_embd = 768;
  int64_t n_layer = 12;
  int64_t n_head = 12;
  double embd_pdrop = 0.1;   ///< dropout on token + position embeddings
  double attn_pdrop = 0.1;   ///< dropout on attention probabilities
  double resid_pdrop = 0.1;  ///< dropout on each residual branch's output
  double layer_norm_epsilon = 1e-5;
  bool qkv_bias = true;
  bool tie_word_embeddings = true;  ///< lm_head shares wte.weight (no parameter of its own)

  /// "gpt2" (124M), "gpt2-medium" (350M), "gpt2-large" (774M), "gpt2-xl" (1.5B) as on the
  /// Hugging Face hub; "gpt2-tiny" (2 layers, 4 heads, width 64, vocab 128, 32 positions, no
  /// dropout: tests) and "gpt2-baby" (nanoGPT's CPU shakespeare_char: 4 layers, 4 heads,
  /// width 128, 64 positions, vocab 65, no dropout). Unknown names throw, listing the known.
  static Gpt2Config preset(const std::string& name);
  static std::vector<std::string> preset_names();
  /// Reads HF config.json fields (missing ones keep the defaults above; n_ctx, if present,
  /// must equal n_positions; activation_function must be a tanh GELU) and validates.
  static Gpt2Config from_json(const io::JsonConfig& json);
  static Gpt2Config load(const std::string& path);
  /// config.json text that Hugging Face's GPT2Config reads, plus nabla's qkv_bias.
  std::string to_json() const;
  /// Throws Error naming the field when sizes are not positive, n_embd % n_head != 0 or a
  /// dropout probability is outside [0, 1).
  void validate() const;
  /// Throws Error naming the model, n_head and world_size when tensor parallelism cannot
  /// split the model over world_size ranks: each rank holds whole heads, so n_head must be
  /// divisible by world_size.
  void check_tensor_parallel(int world_size) const;
  int64_t head_dim() const { return n_embd / n_head; }
  /// Parameters of the model this config builds (124,439,808 for "gpt2"), without building it.
  int64_t num_parameters() const;
  bool operator==(const Gpt2Config&) const = default;
};

/// Causal self-attention: c_attn (C -> 3C) splits into q, k, v of n_head heads; c_proj (C -> C).
class Gpt2Attention : public nn::Module {
 public:
  Gpt2Attention(const Gpt2Config& config, int64_t layer);
  /// x (B, T, C) at positions start_pos.. -> (B, T, C). With a cache, writes this layer's keys
  /// and values at [start_pos, start_pos + T) and attends over [0, start_pos + T).
  Tensor forward(const Tensor& x, int64_t start_pos, KVCache* cache, Generator* gen);
  using nn::Module::forward;
  std::string name() const override { return "GPT2Attention"; }
  /// c_attn column-parallel by heads (in each of q, k, v), c_proj row-parallel.
  void shard_for_tensor_parallel(dist::Communicator& comm);

  std::shared_ptr<nn::Linear> c_attn, c_proj;

 private:
  int64_t n_head_, head_dim_, layer_;  // n_head_: this rank's heads
  double attn_pdrop_, resid_pdrop_;
  dist::Communicator* tp_ = nullptr;  // set when split over ranks
};

/// The feed-forward block: c_fc (C -> 4C), GELU (tanh), c_proj (4C -> C).
class Gpt2Mlp : public nn::Module {
 public:
  explicit Gpt2Mlp(const Gpt2Config& config);
  /// x (B, T, C) -> (B, T, C), dropout on the output when training.
  Tensor forward(const Tensor& x, Generator* gen);
  using nn::Module::forward;
  std::string name() const override { return "GPT2MLP"; }
  /// c_fc column-parallel by hidden units, c_proj row-parallel.
  void shard_for_tensor_parallel(dist::Communicator& comm);

  std::shared_ptr<nn::Linear> c_fc, c_proj;

 private:
  double resid_pdrop_;
  dist::Communicator* tp_ = nullptr;  // set when split over ranks
};

/// One pre-norm transformer block: x + attn(ln_1(x)), then h + mlp(ln_2(h)).
class Gpt2Block : public nn::Module {
 public:
  Gpt2Block(const Gpt2Config& config, int64_t layer);
  /// x (B, T, C) -> (B, T, C).
  Tensor forward(const Tensor& x, int64_t start_pos, KVCache* cache, Generator* gen);
  using nn::Module::forward;
  std::string name() const override { return "GPT2Block"; }

  std::shared_ptr<nn::LayerNorm> ln_1, ln_2;
  std::shared_ptr<Gpt2Attention> attn;
  std::shared_ptr<Gpt2Mlp> mlp;
};

/// GPT-2 language model. Built with GPT-2's initialisation from the default generator:
/// N(0, 0.02) for Linear and Embedding weights, zero biases, and N(0, 0.02 / sqrt(2 n_layer))
/// for the residual projections attn.c_proj and mlp.c_proj (GPT-2 paper section 2.3, nanoGPT).
///   auto model = std::make_shared<models::Gpt2>(models::Gpt2Config::preset("gpt2"));
///   Tensor logits = model->forward(tokens);  // (B, T, V)
class Gpt2 : public CausalLM {
 public:
  explicit Gpt2(Gpt2Config config);
  using CausalLM::forward;
  /// tokens (B, T) integer at positions start_pos..start_pos + T - 1 (< n_positions) ->
  /// logits (B, T, V). Gradients do not flow through keys and values read from a cache.
  Tensor forward(const Tensor& tokens, int64_t start_pos, KVCache* cache) override;
  /// k[l], v[l] zeroed (max_batch, n_head, max_seq, head_dim) f32.
  KVCache make_cache(int64_t max_batch, int64_t max_seq) const override;
  int64_t vocab_size() const override { return config_.vocab_size; }
  int64_t max_seq_len() const override { return config_.n_positions; }
  std::string name() const override { return "GPT2LMHeadModel"; }
  const Gpt2Config& config() const { return config_; }
  /// Megatron-style tensor parallelism over comm's ranks (CausalLM's contract): c_attn and
  /// c_fc column-parallel by heads and hidden units, both c_proj row-parallel (partial
  /// outputs summed across ranks, bias added once after), the head column-parallel over the
  /// vocabulary with its logits all-gathered; embeddings and layer norms whole on every
  /// rank. Throws as Gpt2Config::check_tensor_parallel.
  void shard_for_tensor_parallel(dist::Communicator& comm) override;
  /// CausalLM's contract; a tied head gets a packed copy of the embedding's rows.
  void pack_weights(WeightFormat format) override;

  /// Draws N(0, 0.02) / scaled-residual weights and zero biases again (see the class comment).
  void reset_parameters();

  /// The parameters with Hugging Face's names and layouts: Conv1D weights (c_attn, c_proj,
  /// c_fc) as [in, out] views of the nn::Linear weights, no lm_head when tied.
  std::vector<std::pair<std::string, Tensor>> hf_state_dict() const;
  /// Copies weights in HF names and layouts into the model: accepts a "transformer." prefix,
  /// "lm_head.weight" equal to wte (when tied), and HF's attention-mask buffers (h.N.attn.bias,
  /// h.N.attn.masked_bias), converts floating dtypes to f32. Every missing tensor, shape
  /// mismatch and unexpected tensor throws IoError naming the file; nothing is copied then.
  void load_hf_weights(const io::Weights& weights);

  /// Writes dir/model.safetensors (HF names and layouts) and dir/config.json, atomically;
  /// creates dir if needed.
  void save_pretrained(const std::string& dir) const;
  /// Loads dir/config.json and dir/model.safetensors (a Hugging Face GPT-2 directory or one
  /// written by save_pretrained).
  static std::shared_ptr<Gpt2> from_pretrained(const std::string& dir);
  /// Builds the model of an llm.c checkpoint (gpt2_124M.bin, f32 or bf16); llm.c trains
  /// without dropout, so the config's dropouts are 0.
  static std::shared_ptr<Gpt2> from_llmc(const std::string& path);
  /// Writes an llm.c checkpoint (dtype kFloat32: version 3, kBFloat16: version 5; vocabulary
  /// padded to a multiple of 128 as llm.c does). Needs qkv_bias and a tied head.
  void save_llmc(const std::string& path, DType dtype = kFloat32) const;

  /// Dropout masks draw from this generator, or from the default one when null.
  Generator* generator = nullptr;

  std::shared_ptr<nn::Embedding> wte, wpe;
  std::vector<std::shared_ptr<Gpt2Block>> h;  ///< registered as "h.0", "h.1", ...
  std::shared_ptr<nn::LayerNorm> ln_f;
  std::shared_ptr<nn::Linear> lm_head;  ///< null when tied to wte

 private:
  Gpt2Config config_;
  dist::Communicator* tp_ = nullptr;  // set when split over ranks
  Tensor head_shard_;                 // (ceil(V / N), C): this rank's rows of the tied head
  std::shared_ptr<const PackedWeight> packed_head_;  // a tied head, packed (pack_weights)
};

}  // namespace nabla::models
