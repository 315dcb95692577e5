// The SentencePiece BPE vocabulary of llama2.c (tokenizer.bin), encoded and decoded exactly as
// llama2.c's run.c does (karpathy/llama2.c, commit 350e04f).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "nabla/tokenizers/tokenizer.h"

namespace nabla::tokenizers {

/// llama2.c's tokenizer.bin: int32 max_token_length, then per token (id order) float32 score,
/// int32 len and len raw bytes. The token count is not stored; it comes from the model header.
/// Id 0 is <unk>, 1 BOS, 2 EOS, 3..258 the byte tokens <0x00>..<0xFF>.
///
/// encode(): BOS, then (for non-empty text) the piece " " (SentencePiece's dummy prefix), then
/// one token per UTF-8 character (up to 4 bytes, split as run.c does), falling back to byte
/// tokens (byte + 3) for characters not in the vocabulary; then repeatedly merges the adjacent
/// pair whose concatenation is a piece with the highest score (leftmost on ties; scores must
/// exceed -1e10). A priority queue gives run.c's result in O(n log n) instead of O(n^2).
/// Differences from run.c, which reads C strings: text and pieces may hold NUL bytes; when
/// two pieces are equal, the lower id is used (run.c's choice depends on its sort).
///
/// decode_piece(): the piece, minus one leading space right after BOS; <0xXX> pieces become the
/// byte. BOS decodes to nothing (run.c never prints it); other pieces, EOS included, to their
/// bytes.
class Llama2cTokenizer : public Tokenizer {
 public:
  /// Reads path. vocab_size: the model's vocabulary size; -1 reads records up to the end of
  /// the file. Throws nabla::IoError naming the file and byte offset for truncated records,
  /// negative or too long lengths, trailing bytes (a vocab_size mismatch) or too few tokens.
  static Llama2cTokenizer load(const std::string& path, int64_t vocab_size = -1);
  /// The same from bytes in memory; name stands for the file in messages.
  static Llama2cTokenizer from_bytes(std::span<const uint8_t> data, int64_t vocab_size,
                                     const std::string& name);

  /// BOS + text; no EOS (as run.c's generate).
  std::vector<int32_t> encode(std::string_view text) const override;
  std::vector<int32_t> encode(std::string_view text, bool bos, bool eos) const;
  std::string decode_piece(int32_t prev, int32_t id) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(pieces_.size()); }
  std::optional<int32_t> bos_id() const override { return 1; }
  std::optional<int32_t> eos_id() const override { return 2; }
  std::string name() const override { return "llama2c"; }

  const std::string& piece(int32_t id) const { return pieces_.at(id); }
  float score(int32_t id) const { return scores_.at(id); }
  int32_t max_token_length() const { return max_token_length_; }

 private:
  int32_t lookup(std::string_view s) const;
  void merge(std::vector<int32_t>& tokens) const;

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids_;  // lowest id
  int32_t max_token_length_ = 0;
};

}  // namespace nabla::tokenizers
