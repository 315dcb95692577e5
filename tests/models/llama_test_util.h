// Test helpers for Llama: read a whole file, and llama2.c's run.c greedy loop.
#pragma once

#include <cctype>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "nabla/autograd/grad_mode.h"
#include "nabla/models/llama.h"
#include "nabla/ops/ops.h"
#include "nabla/tokenizers/llama2c_tokenizer.h"

namespace nabla::models {

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// What run.c's safe_printf prints of a piece: nothing for a single non-printable byte.
inline std::string printable(const std::string& piece) {
  if (piece.size() == 1 && !std::isprint(static_cast<unsigned char>(piece[0])) &&
      !std::isspace(static_cast<unsigned char>(piece[0]))) {
    return {};
  }
  return piece;
}

// llama2.c's run.c loop (BOS counts as position 0; stop when BOS is produced; a newline at
// the end). Here the prompt but its last token is prefilled in one pass, then one token per
// step is decoded against the cache. The text has no final newline.
inline std::string greedy_run_c(Llama& model, const tokenizers::Llama2cTokenizer& tok,
                         const std::string& prompt, int64_t steps) {
  NoGradGuard no_grad;
  const std::vector<int32_t> ids = tok.encode(prompt);
  const auto n = static_cast<int64_t>(ids.size());
  KVCache cache = model.make_cache(1, steps);
  std::string out;
  for (int64_t i = 0; i + 1 < n; ++i) out += printable(tok.decode_piece(ids[i], ids[i + 1]));
  if (n > 1) {
    const std::vector<int64_t> prefix(ids.begin(), ids.end() - 1);
    model.forward(tensor(prefix).view({1, n - 1}), 0, &cache);
  }
  int64_t token = ids.back();
  for (int64_t pos = n - 1; pos < steps; ++pos) {
    const Tensor logits =
        model.forward(tensor(std::vector<int64_t>{token}).view({1, 1}), pos, &cache);
    const int64_t next = logits.view({-1}).argmax().item<int64_t>();
    if (next == 1) break;
    out += printable(tok.decode_piece(static_cast<int32_t>(token), static_cast<int32_t>(next)));
    token = next;
  }
  return out;
}

}  // namespace nabla::models
