// Meta's Llama.build / generate / text_completion as one object (a model, its tokenizer and a
// preallocated KV cache), and load_causal_lm(), which picks a checkpoint format from a path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nabla/generate/generate.h"
#include "nabla/models/causal_lm.h"
#include "nabla/tokenizers/tokenizer.h"

namespace nabla::generation {

/// Loads a causal LM from path by its format, in eval mode:
///  - a folder with model-tp.index.json: a tensor-parallel checkpoint of any shard count
///    (models::load_sharded), merged into the whole model;
///  - a folder with params.json: Meta's consolidated.NN.pth (models::Llama);
///  - a folder with config.json: Hugging Face safetensors, models::Gpt2 when its model_type is
///    "gpt2", else models::Llama (also a .safetensors file or a safetensors index file);
///  - a file starting with llm.c's magic 20240326: an llm.c GPT-2 checkpoint (models::Gpt2);
///  - any other file: a llama2.c checkpoint (versions 0-2, models::Llama).
/// max_seq_len 0 keeps the checkpoint's (GPT-2 always keeps n_positions). Throws
/// nabla::IoError naming the path when it cannot be read.
std::shared_ptr<models::CausalLM> load_causal_lm(const std::string& path, int64_t max_seq_len = 0);

/// Meta's llama.Llama: build() loads the checkpoint and tokenizer and preallocates one KV cache
/// of max_batch_size x max_seq_len, which every generate() call reuses.
class Llama {
 public:
  static Llama build(const std::string& ckpt_path, const std::string& tokenizer_path,
                     int64_t max_seq_len, int64_t max_batch_size);
  Llama(std::shared_ptr<models::CausalLM> model, std::shared_ptr<tokenizers::Tokenizer> tokenizer,
        int64_t max_seq_len, int64_t max_batch_size);

  /// generate() with this object's cache; empty stop_tokens means the tokenizer's
  /// (default_stop_tokens).
  GenerationResult generate(const std::vector<std::vector<int64_t>>& prompt_tokens,
                            GenerateOptions options);
  /// text_completion() with this object's model, tokenizer and cache.
  std::vector<Completion> text_completion(const std::vector<std::string>& prompts,
                                          GenerateOptions options);

  std::shared_ptr<models::CausalLM> model;
  std::shared_ptr<tokenizers::Tokenizer> tokenizer;

 private:
  models::KVCache cache_;
};

}  // namespace nabla::generation
