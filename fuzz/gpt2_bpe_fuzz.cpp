// libFuzzer target: arbitrary bytes through GPT-2 BPE; encoding is total and must round-trip
// byte for byte (with and without the special token allowed). Needs gpt2_encoder.json and
// gpt2_vocab.bpe from $NABLA_DATA_DIR or ../shared/data beside the repository; without them
// it says so once and tests nothing.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string_view>

#include "nabla/tokenizers/gpt2_bpe.h"

namespace {

std::unique_ptr<nabla::tokenizers::GPT2Tokenizer> load() {
  const char* env = std::getenv("NABLA_DATA_DIR");
  const std::filesystem::path dir =
      env ? std::filesystem::path(env)
          : std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "shared" / "data";
  if (!std::filesystem::exists(dir / "gpt2_encoder.json")) {
    std::fprintf(stderr, "gpt2_bpe_fuzz: no gpt2_encoder.json in %s (set NABLA_DATA_DIR)\n",
                 dir.c_str());
    return nullptr;
  }
  return std::make_unique<nabla::tokenizers::GPT2Tokenizer>(
      (dir / "gpt2_encoder.json").string(), (dir / "gpt2_vocab.bpe").string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tok = load();
  if (tok == nullptr) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (tok->decode(tok->encode(text)) != text) __builtin_trap();
  if (tok->decode(tok->encode(text, tok->special_tokens())) != text) __builtin_trap();
  return 0;
}
