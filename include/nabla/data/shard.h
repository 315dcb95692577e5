// Token shards: a flat array of token ids on disk behind a fixed 32-byte header, written
// atomically and read through a memory mapping. All fields are little-endian:
//   offset  0  u8[8]  magic "NABLATOK"
//   offset  8  u32    version (1)
//   offset 12  u32    token width in bytes: 2 (u16 ids) or 4 (u32 ids)
//   offset 16  u64    token count N
//   offset 24  u64    vocabulary size V (every id is < V; 0 = not recorded)
//   offset 32  N ids of the given width, nothing after them (file size = 32 + N * width)
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "nabla/core/storage.h"

namespace nabla::data {

inline constexpr char kShardMagic[8] = {'N', 'A', 'B', 'L', 'A', 'T', 'O', 'K'};
inline constexpr uint32_t kShardVersion = 1;
inline constexpr int64_t kShardHeaderBytes = 32;

/// Writes tokens as a shard at path, atomically (temporary file, fsync, rename): u16 ids when
/// vocab_size <= 65536, u32 otherwise. Throws nabla::Error when an id is outside
/// [0, vocab_size) (naming its index) and IoError when the file cannot be written; path then
/// keeps its previous contents.
void write_shard(const std::string& path, std::span<const int32_t> tokens, int64_t vocab_size);

/// A read-only view of a shard. Opening checks the magic, version, width and that the file
/// size is exactly 32 + N * width (so truncated or padded files are rejected before any
/// token is read); errors are IoError naming the file and the byte offset.
class Shard {
 public:
  /// Memory-maps the shard at path.
  static Shard open(const std::string& path);
  /// Parses a whole shard held in bytes (same checks); source names it in messages.
  static Shard parse(std::shared_ptr<Storage> bytes, const std::string& source = "<memory>");

  int64_t size() const { return num_tokens_; }
  int64_t vocab_size() const { return vocab_size_; }
  int token_bytes() const { return token_bytes_; }
  const std::string& source() const { return source_; }

  /// Token i (0 <= i < size()).
  int64_t operator[](int64_t i) const;
  /// Copies tokens [start, start + n) to out as int64. Throws IoError naming the file and byte
  /// offset when the range is out of bounds or an id is >= vocab_size() (corrupt data).
  void read(int64_t start, int64_t n, int64_t* out) const;

 private:
  Shard() = default;
  std::shared_ptr<Storage> bytes_;
  std::string source_;
  int64_t num_tokens_ = 0;
  int64_t vocab_size_ = 0;
  int token_bytes_ = 2;
};

}  // namespace nabla::data
