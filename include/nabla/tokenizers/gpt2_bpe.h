// GPT-2's byte-level BPE tokenizer (OpenAI encoder.json + vocab.bpe). Encodes token for token
// like OpenAI's reference encoder.py (openai/gpt-2 src/encoder.py) and tiktoken's "gpt2".
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "nabla/tokenizers/tokenizer.h"

namespace nabla::tokenizers {

/// GPT-2 byte-level BPE.
///
/// Encoding: the text is split by GPT-2's pre-tokenisation regex
///   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
/// (implemented by hand, with Unicode classes generated from Python's unicodedata, Unicode
/// 14.0.0, by tools/gen_unicode_tables.py; characters assigned after 14.0 count as neither letter
/// nor number, where a newer `regex` module may differ), then each piece's bytes are
/// merged by rank (earliest line of vocab.bpe first). Results are cached per piece.
///
/// Invalid UTF-8: each byte that does not start a well-formed UTF-8 sequence is treated as a
/// code point of its own that is neither letter, number nor space (like the lone surrogate that
/// Python's "surrogateescape" decoding gives it) and stands for exactly that byte. Encoding is
/// therefore total, and decode(encode(bytes)) == bytes for any bytes.
///
/// Special tokens ("<|endoftext|>", id 50256) are ordinary text unless the caller allows them.
class GPT2Tokenizer : public Tokenizer {
 public:
  /// Reads OpenAI's encoder.json (token string -> id, byte-level strings) and vocab.bpe
  /// ("#version" line, then one "a b" merge per line). Throws nabla::IoError naming the file
  /// (and line for vocab.bpe) when malformed.
  GPT2Tokenizer(const std::string& encoder_json_path, const std::string& vocab_bpe_path);
  /// The same from a directory holding encoder.json and vocab.bpe.
  static std::unique_ptr<GPT2Tokenizer> from_directory(const std::string& dir);

  /// Ids of text; special tokens are encoded as ordinary text.
  std::vector<int32_t> encode(std::string_view text) const override;
  /// Ids of text, where occurrences of the special tokens in allowed_special (e.g.
  /// {"<|endoftext|>"}) become their ids. Throws nabla::Error for an unknown special token.
  std::vector<int32_t> encode(std::string_view text,
                              const std::vector<std::string>& allowed_special) const;
  /// The raw bytes of token id (independent of prev).
  std::string decode_piece(int32_t prev, int32_t id) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(id_to_bytes_.size()); }
  std::optional<int32_t> bos_id() const override { return eot_id_; }
  std::optional<int32_t> eos_id() const override { return eot_id_; }
  std::string name() const override { return "gpt2"; }
  /// The special token strings (GPT-2: "<|endoftext|>").
  std::vector<std::string> special_tokens() const;

  /// Empties the per-piece cache (for benchmarks of cold encoding; results never depend on it).
  void clear_cache() const;

  /// The pre-tokenisation of text (the pieces the regex finds), for tests.
  std::vector<std::string_view> pre_tokenize(std::string_view text) const;

 private:
  struct Merge {
    int32_t rank, id;
  };
  void load_encoder(const std::string& path);
  void load_merges(const std::string& path);
  void encode_ordinary(std::string_view text, std::vector<int32_t>& out) const;
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  std::vector<int32_t> bpe(std::string_view piece) const;

  std::vector<std::string> id_to_bytes_;
  std::unordered_map<std::string, int32_t> bytes_to_id_;
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> merge
  std::vector<std::pair<std::string, int32_t>> specials_;
  std::optional<int32_t> eot_id_;
  int32_t byte_id_[256] = {};

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>>
      cache_;
};

}  // namespace nabla::tokenizers
