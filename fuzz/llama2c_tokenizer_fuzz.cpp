// libFuzzer target: arbitrary bytes as a llama2.c tokenizer.bin parsed from memory. A
// nabla::Error is the expected answer to bad input; a file that loads must then encode and
// decode text (a fixed string and the input's own tail) without crashing.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "nabla/core/error.h"
#include "nabla/tokenizers/llama2c_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto tok =
        nabla::tokenizers::Llama2cTokenizer::from_bytes(std::span(data, size), -1, "fuzz");
    const std::string_view tail(reinterpret_cast<const char*>(data) + size / 2, size - size / 2);
    for (const std::string_view text : {std::string_view("Once upon a time, é 日"), tail}) {
      const std::vector<int32_t> ids = tok.encode(text);
      if (ids.empty() || ids[0] != 1) __builtin_trap();
      (void)tok.decode(ids);
    }
  } catch (const nabla::Error&) {
    return 0;
  }
  return 0;
}
