// A character-level tokenizer: the vocabulary is the sorted distinct bytes of a corpus, as in
// nanoGPT's shakespeare_char (each byte is one token; id = its rank in the sorted vocabulary).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nabla/tokenizers/tokenizer.h"

namespace nabla::tokenizers {

/// Byte-level character tokenizer. Saved as JSON:
///   {"kind": "nabla-char-tokenizer", "version": 1, "bytes": [10, 32, 33, ...]}
/// where "bytes" lists the vocabulary's byte values in id order (strictly increasing).
class CharTokenizer : public Tokenizer {
 public:
  /// The vocabulary of corpus: its distinct bytes, sorted. Throws nabla::Error when empty.
  static CharTokenizer from_corpus(std::string_view corpus);
  /// A vocabulary given as its byte values (strictly increasing, at least one).
  explicit CharTokenizer(std::vector<uint8_t> bytes);
  /// Reads a file written by save(); throws nabla::IoError naming it when malformed.
  static CharTokenizer load(const std::string& path);
  void save(const std::string& path) const;

  /// One id per byte; throws nabla::Error naming the byte and offset for a byte not in the
  /// vocabulary.
  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode_piece(int32_t prev, int32_t id) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(bytes_.size()); }
  std::string name() const override { return "char"; }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
  std::array<int32_t, 256> ids_{};  // byte -> id, -1 if absent
};

}  // namespace nabla::tokenizers
