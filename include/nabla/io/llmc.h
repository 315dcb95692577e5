// llm.c GPT-2 checkpoints (github.com/karpathy/llm.c, gpt2_124M.bin): a 256 x int32 header
// (magic 20240326, version 3 = f32 or 5 = bf16, max_seq_len, vocab_size, num_layers,
// num_heads, channels, padded_vocab_size), then 16 arrays with all layers stacked:
//   wte (Vp, C), wpe (maxT, C), ln1w (L, C), ln1b (L, C), qkvw (L, 3C, C), qkvb (L, 3C),
//   attprojw (L, C, C), attprojb (L, C), ln2w (L, C), ln2b (L, C), fcw (L, 4C, C),
//   fcb (L, 4C), fcprojw (L, C, 4C), fcprojb (L, C), lnfw (C), lnfb (C).
// Loaded tensors get Hugging Face GPT-2 names: wte.weight [V, C], wpe.weight,
// h.N.ln_1.{weight,bias}, h.N.attn.c_attn.{weight [C, 3C], bias}, h.N.attn.c_proj.*,
// h.N.ln_2.*, h.N.mlp.c_fc.{weight [C, 4C], bias}, h.N.mlp.c_proj.{weight [4C, C], bias},
// ln_f.{weight,bias}. HF's Conv1D stores weights [in, out], llm.c [out, in]: the four matrices
// are transposed both ways. The vocabulary padding rows (V..Vp) are dropped on read and
// written as zeros.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nabla/core/storage.h"
#include "nabla/io/weights.h"

namespace nabla::io {

/// The header of an llm.c GPT-2 checkpoint.
struct LlmcConfig {
  int64_t max_seq_len = 0;
  int64_t vocab_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t channels = 0;
  int64_t padded_vocab_size = 0;
  DType dtype = kFloat32;  ///< kFloat32 (version 3) or kBFloat16 (version 5)
  bool operator==(const LlmcConfig&) const = default;
};

/// A loaded llm.c checkpoint: tensors (HF names, dtype of the file) and the header.
struct LlmcCheckpoint {
  LlmcConfig config;
  Weights weights;
};

/// Loads an llm.c checkpoint (memory-mapped: untransposed tensors view the file). The header
/// is validated and the exact file size checked before any weight is read.
LlmcCheckpoint load_llmc(const std::string& path);
/// The same from a whole file held in buffer; source names it in messages.
LlmcCheckpoint parse_llmc(std::shared_ptr<Storage> buffer, const std::string& source = "<memory>");

/// Writes weights (HF names and shapes, any floating dtype, converted to config.dtype) as an
/// llm.c checkpoint, atomically.
void save_llmc(const std::string& path, const LlmcConfig& config, const Weights& weights);

/// The size of the file for config, checked for overflow.
int64_t llmc_file_size(const LlmcConfig& config);

}  // namespace nabla::io
