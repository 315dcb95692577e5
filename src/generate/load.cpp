// Checkpoint format detection and the Llama object (Meta's llama/generation.py Llama class).
#include "nabla/generate/load.h"

#include <filesystem>

#include "nabla/core/error.h"
#include "nabla/models/llama.h"

namespace nabla::generation {

std::shared_ptr<models::CausalLM> load_causal_lm(const std::string& path, int64_t max_seq_len) {
  NABLA_CHECK_IO(std::filesystem::exists(path), "load_causal_lm: cannot open ", path,
                 " (no such file or directory)");
  const std::filesystem::path p(path);
  if (std::filesystem::is_directory(p)) {
    if (std::filesystem::exists(p / "params.json")) {
      return models::Llama::from_meta(path, max_seq_len);
    }
    NABLA_CHECK_IO(std::filesystem::exists(p / "config.json"), "load_causal_lm: ", path,
                   " is a folder without params.json (Meta) or config.json (Hugging Face)");
    return models::Llama::from_hf(path, max_seq_len);
  }
  if (p.extension() == ".safetensors" || p.filename() == "model.safetensors.index.json") {
    return models::Llama::from_hf(path, max_seq_len);
  }
  return models::Llama::from_llama2c(path, max_seq_len);
}

Llama::Llama(std::shared_ptr<models::CausalLM> m, std::shared_ptr<tokenizers::Tokenizer> tok,
             int64_t max_seq_len, int64_t max_batch_size)
    : model(std::move(m)), tokenizer(std::move(tok)) {
  NABLA_CHECK(model && tokenizer, "Llama: model and tokenizer are required");
  NABLA_CHECK(max_seq_len > 0 && max_seq_len <= model->max_seq_len(), "Llama: max_seq_len ",
              max_seq_len, " must be in [1, ", model->max_seq_len(), "] (the model's)");
  NABLA_CHECK(max_batch_size > 0, "Llama: max_batch_size must be > 0, got ", max_batch_size);
  NABLA_CHECK(tokenizer->vocab_size() <= model->vocab_size(), "Llama: the tokenizer has ",
              tokenizer->vocab_size(), " tokens, the model only ", model->vocab_size());
  cache_ = model->make_cache(max_batch_size, max_seq_len);
}

Llama Llama::build(const std::string& ckpt_path, const std::string& tokenizer_path,
                   int64_t max_seq_len, int64_t max_batch_size) {
  std::shared_ptr<models::CausalLM> m = load_causal_lm(ckpt_path, max_seq_len);
  std::shared_ptr<tokenizers::Tokenizer> tok =
      tokenizers::load_tokenizer(tokenizer_path, m->vocab_size());
  return {std::move(m), std::move(tok), max_seq_len, max_batch_size};
}

GenerationResult Llama::generate(const std::vector<std::vector<int64_t>>& prompt_tokens,
                                 GenerateOptions options) {
  if (options.stop_tokens.empty()) options.stop_tokens = default_stop_tokens(*tokenizer);
  return generation::generate(*model, prompt_tokens, options, &cache_);
}

std::vector<Completion> Llama::text_completion(const std::vector<std::string>& prompts,
                                               GenerateOptions options) {
  return generation::text_completion(*model, *tokenizer, prompts, std::move(options), &cache_);
}

}  // namespace nabla::generation
