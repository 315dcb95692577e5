// Tokenizer's default decode, the UTF-8-aware StreamDecoder and load_tokenizer().
#include "nabla/tokenizers/tokenizer.h"

#include <filesystem>
#include <fstream>

#include "nabla/core/error.h"
#include "nabla/tokenizers/char_tokenizer.h"
#include "nabla/tokenizers/gpt2_bpe.h"
#include "nabla/tokenizers/llama2c_tokenizer.h"
#include "tokenizers/unicode.h"

namespace nabla::tokenizers {

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  int32_t prev = -1;
  for (const int32_t id : ids) {
    out += decode_piece(prev, id);
    prev = id;
  }
  return out;
}

std::string StreamDecoder::push(int32_t id) {
  pending_ += tokenizer_->decode_piece(prev_, id);
  prev_ = id;
  const size_t n = detail::utf8_complete_prefix(pending_);
  std::string out = pending_.substr(0, n);
  pending_.erase(0, n);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out;
  out.swap(pending_);
  prev_ = -1;
  return out;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path, int64_t vocab_size) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const bool gpt2 = fs::exists(fs::path(path) / "encoder.json", ec) &&
                      fs::exists(fs::path(path) / "vocab.bpe", ec);
    NABLA_CHECK_IO(gpt2, "load_tokenizer: directory ", path,
                   " has no encoder.json + vocab.bpe (GPT-2 BPE)");
    return GPT2Tokenizer::from_directory(path);
  }
  std::ifstream in(path, std::ios::binary);
  NABLA_CHECK_IO(in.good(), "load_tokenizer: cannot open ", path,
                 " (expected a GPT-2 directory, a llama2.c tokenizer.bin or a char vocabulary)");
  char first = 0;
  in.get(first);
  if (first == '{') return std::make_unique<CharTokenizer>(CharTokenizer::load(path));
  return std::make_unique<Llama2cTokenizer>(Llama2cTokenizer::load(path, vocab_size));
}

}  // namespace nabla::tokenizers
