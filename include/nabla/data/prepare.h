// Turning text files into a training dataset directory (what `nabla prepare` does):
//   DIR/train.bin, DIR/val.bin   token shards (data/shard.h)
//   DIR/meta.json                {"format": "nabla-dataset", "version": 1, "tokenizer": "char" |
//                                 "gpt2" | "llama2c", "tokenizer_path": "<file or dir, relative
//                                 to DIR>", "vocab_size": V, "train_tokens": N, "val_tokens": M}
//   plus the tokenizer itself, so DIR is self-contained: tokenizer.json (char vocabulary),
//   encoder.json + vocab.bpe (GPT-2; DIR is then a GPT-2 tokenizer directory) or tokenizer.bin.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nabla/tokenizers/tokenizer.h"

namespace nabla::data {

struct PrepareOptions {
  std::vector<std::string> inputs = {};  ///< text files, concatenated in order
  std::string out_dir = {};
  /// "char" (vocabulary = the corpus's distinct bytes), or anything load_tokenizer accepts:
  /// a directory with encoder.json + vocab.bpe, a saved char vocabulary, a llama2.c
  /// tokenizer.bin. GPT-2 files with other names go in gpt2_encoder / gpt2_merges instead.
  std::string tokenizer = "char";
  std::string gpt2_encoder = {}, gpt2_merges = {};
  /// The last val_fraction of the text (by bytes, moved to a UTF-8 character boundary) is
  /// the validation split, as nanoGPT's prepare.py splits at int(n * 0.9).
  double val_fraction = 0.1;
};

struct DatasetInfo {
  std::string tokenizer_kind = {};  ///< "char", "gpt2" or "llama2c"
  std::string tokenizer_path = {};  ///< absolute path of the tokenizer inside the dataset directory
  int64_t vocab_size = 0;
  int64_t train_tokens = 0, val_tokens = 0;
};

/// Tokenizes the inputs and writes the dataset directory (created if needed). Each input is
/// encoded on its own; with GPT-2, <|endoftext|> follows each file (document separator, as
/// nanoGPT's openwebtext prepare.py). Every file is written atomically, meta.json last.
/// Throws nabla::Error for unreadable inputs, empty text or an empty split.
DatasetInfo prepare_dataset(const PrepareOptions& options);

/// Reads DIR/meta.json; throws IoError naming the file when it is missing or malformed.
DatasetInfo read_dataset_info(const std::string& dir);

/// The dataset's tokenizer (for decoding samples).
std::unique_ptr<tokenizers::Tokenizer> load_dataset_tokenizer(const DatasetInfo& info);

}  // namespace nabla::data
