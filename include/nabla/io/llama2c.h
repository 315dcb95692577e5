// llama2.c checkpoints (github.com/karpathy/llama2.c, export.py):
//  version 0 (legacy): 7 int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
//    vocab_size, seq_len; vocab_size < 0 means a separate classifier), f32 arrays from
//    token_embedding_table to rms_final_weight, old RoPE tables (skipped), optional wcls.
//  version 1: 256-byte header (u32 magic "ak42" 0x616b3432, i32 version, the 7 fields, u8
//    shared_classifier, zero padding), then f32 arrays with the norms first.
//  version 2: as version 1 plus i32 group_size; norms in f32, other matrices Q8_0 (int8 values
//    of all matrices, then all their f32 group scales); dequantized to f32 on load.
// Tensors get Meta's Llama names: tok_embeddings.weight, layers.N.attention_norm.weight,
// layers.N.attention.{wq,wk,wv,wo}.weight, layers.N.ffn_norm.weight,
// layers.N.feed_forward.{w1,w2,w3}.weight, norm.weight, and output.weight only when the
// classifier is not shared (otherwise the model ties it to tok_embeddings.weight).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nabla/core/storage.h"
#include "nabla/io/weights.h"

namespace nabla::io {

/// The header fields of a llama2.c checkpoint. Matrices are stored [out, in].
struct Llama2cConfig {
  int64_t dim = 0;
  int64_t hidden_dim = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t vocab_size = 0;  ///< always positive here (the v0 sign is shared_classifier)
  int64_t seq_len = 0;
  bool shared_classifier = true;  ///< output.weight is tok_embeddings.weight

  int64_t head_size() const { return dim / n_heads; }
  int64_t kv_dim() const { return n_kv_heads * head_size(); }
  bool operator==(const Llama2cConfig&) const = default;
};

/// A loaded llama2.c checkpoint.
struct Llama2cCheckpoint {
  Llama2cConfig config;
  int version = 0;          ///< 0, 1 or 2
  int64_t group_size = 0;   ///< Q8_0 group size (version 2 only)
  Weights weights;
};

/// Loads a llama2.c checkpoint (memory-mapped; f32 tensors view the file without a copy).
/// The header is validated and the exact file size computed before any weight is read; a
/// mismatch throws IoError with both sizes and a hint.
Llama2cCheckpoint load_llama2c(const std::string& path);
/// The same from a whole file held in buffer; source names it in messages.
Llama2cCheckpoint parse_llama2c(std::shared_ptr<Storage> buffer,
                                const std::string& source = "<memory>");

/// Writes a version-0 or version-1 checkpoint atomically. weights must hold every tensor of
/// config with exactly its shape (floating dtypes, converted to f32); output.weight only when
/// !config.shared_classifier. Version 0 also gets the RoPE tables that export.py writes.
void save_llama2c(const std::string& path, const Llama2cConfig& config, const Weights& weights,
                  int version = 0);

/// The file size of a checkpoint with this config (version 0 or 1), checked for overflow.
int64_t llama2c_file_size(const Llama2cConfig& config, int version = 0);

/// The tensor names and shapes of config in the order model code usually registers them.
std::vector<std::pair<std::string, Shape>> llama2c_tensor_shapes(const Llama2cConfig& config);

}  // namespace nabla::io
