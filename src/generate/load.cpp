// Checkpoint format detection and the Llama object (Meta's llama/generation.py Llama class).
#include "nabla/generate/load.h"

#include <cstdint>
#include <filesystem>
#include <fstream>

#include "nabla/core/error.h"
#include "nabla/io/json_config.h"
#include "nabla/io/tp_checkpoint.h"
#include "nabla/models/gpt2.h"
#include "nabla/models/llama.h"
#include "nabla/models/tp_checkpoint.h"

namespace nabla::generation {

namespace {

// llm.c's GPT-2 checkpoints start with the int32 magic 20240326.
bool is_llmc_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  int32_t magic = 0;
  in.read(reinterpret_cast<char*>(&magic), sizeof magic);
  return in.good() && magic == 20240326;
}

std::shared_ptr<models::CausalLM> load_folder(const std::filesystem::path& dir,
                                              int64_t max_seq_len) {
  if (io::is_tp_checkpoint(dir.string())) return models::load_sharded(dir.string(), max_seq_len);
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    NABLA_CHECK_IO(!f.path().filename().string().starts_with("model-tp-"), "load_causal_lm: ",
                   dir.string(), " holds ", f.path().filename().string(), " but no ",
                   io::kTpIndexName,
                   ": the tensor-parallel checkpoint is incomplete (its writer stopped before "
                   "the index, which it writes last); write it again with nabla shard");
  }
  if (std::filesystem::exists(dir / "params.json")) {
    return models::Llama::from_meta(dir.string(), max_seq_len);
  }
  NABLA_CHECK_IO(std::filesystem::exists(dir / "config.json"), "load_causal_lm: ", dir.string(),
                 " is a folder without params.json (Meta) or config.json (Hugging Face)");
  const io::JsonConfig config = io::JsonConfig::load((dir / "config.json").string());
  if (config.get_string("model_type", "") == "gpt2") {
    return models::Gpt2::from_pretrained(dir.string());
  }
  return models::Llama::from_hf(dir.string(), max_seq_len);
}

}  // namespace

std::shared_ptr<models::CausalLM> load_causal_lm(const std::string& path, int64_t max_seq_len) {
  NABLA_CHECK_IO(std::filesystem::exists(path), "load_causal_lm: cannot open ", path,
                 " (no such file or directory)");
  NABLA_CHECK(max_seq_len >= 0, "load_causal_lm: max_seq_len must be >= 0, got ", max_seq_len);
  const std::filesystem::path p(path);
  std::shared_ptr<models::CausalLM> model;
  if (std::filesystem::is_directory(p)) {
    model = load_folder(p, max_seq_len);
  } else if (p.extension() == ".safetensors" || p.filename() == "model.safetensors.index.json") {
    model = models::Llama::from_hf(path, max_seq_len);
  } else if (is_llmc_checkpoint(path)) {
    model = models::Gpt2::from_llmc(path);
  } else {
    model = models::Llama::from_llama2c(path, max_seq_len);
  }
  model->eval();  // no dropout when generating
  return model;
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
