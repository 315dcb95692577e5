// The common tokenizer interface, a streaming decoder that holds back incomplete UTF-8, and
// load_tokenizer(), which picks the kind of tokenizer from a path.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nabla::tokenizers {

/// Text (bytes, normally UTF-8) <-> token ids. Implementations are immutable after loading
/// and safe to use from several threads.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  /// Token ids of text, with whatever the tokenizer adds by convention (llama2.c: BOS).
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  /// The bytes that token id contributes when it follows token prev (-1: id is the first).
  /// Throws nabla::Error for an id outside [0, vocab_size()).
  virtual std::string decode_piece(int32_t prev, int32_t id) const = 0;
  /// The bytes of a token sequence: decode_piece of each id after its predecessor.
  virtual std::string decode(std::span<const int32_t> ids) const;
  virtual int64_t vocab_size() const = 0;
  virtual std::optional<int32_t> bos_id() const { return std::nullopt; }
  virtual std::optional<int32_t> eos_id() const { return std::nullopt; }
  /// "gpt2", "llama2c" or "char".
  virtual std::string name() const = 0;
};

/// Decodes tokens one at a time (generation) and returns only complete UTF-8 text: bytes that
/// end in the middle of a multi-byte character are held back until the next token completes
/// them. Bytes that cannot become valid UTF-8 are passed through unchanged.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(&tokenizer) {}
  /// The text that is complete after appending token id.
  std::string push(int32_t id);
  /// Whatever is still held back (an unfinished character at the end of the stream).
  std::string finish();

 private:
  const Tokenizer* tokenizer_;
  int32_t prev_ = -1;
  std::string pending_;
};

/// Loads a tokenizer from path:
///  - a directory holding encoder.json and vocab.bpe: GPT-2 byte-level BPE;
///  - a JSON file written by CharTokenizer::save: a character (byte) tokenizer;
///  - any other file: a llama2.c tokenizer.bin. vocab_size is the model's vocabulary size
///    (the file does not store it); -1 reads records until the end of the file.
/// Throws nabla::IoError naming the path when it is none of these or is malformed.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path, int64_t vocab_size = -1);

}  // namespace nabla::tokenizers
