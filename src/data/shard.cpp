// Token shards: the writer (atomic, u16 or u32 ids) and the memory-mapped, validated reader.
#include "nabla/data/shard.h"

#include <cstring>
#include <vector>

#include "io/io_util.h"

namespace nabla::data {
namespace {

using io::detail::fail;
using io::detail::load_le;

constexpr const char* kFormat = "shard";

}  // namespace

void write_shard(const std::string& path, std::span<const int32_t> tokens, int64_t vocab_size) {
  NABLA_CHECK(vocab_size > 0 && vocab_size <= (int64_t{1} << 32),
              "write_shard: vocab_size must be in [1, 2^32], got ", vocab_size, " (", path, ")");
  for (size_t i = 0; i < tokens.size(); ++i) {
    NABLA_CHECK(tokens[i] >= 0 && tokens[i] < vocab_size, "write_shard: token ", i, " is ",
                tokens[i], ", outside the vocabulary [0, ", vocab_size, ") (", path, ")");
  }
  const uint32_t width = vocab_size <= 65536 ? 2 : 4;
  uint8_t header[kShardHeaderBytes] = {};
  std::memcpy(header, kShardMagic, 8);
  const uint64_t n = tokens.size(), v = static_cast<uint64_t>(vocab_size);
  std::memcpy(header + 8, &kShardVersion, 4);
  std::memcpy(header + 12, &width, 4);
  std::memcpy(header + 16, &n, 8);
  std::memcpy(header + 24, &v, 8);
  io::detail::AtomicWriter w(path, kFormat);
  w.write(header, sizeof header);
  constexpr size_t kChunk = 1 << 16;  // converted in chunks: no second copy of a big corpus
  std::vector<uint8_t> buf(kChunk * width);
  for (size_t begin = 0; begin < tokens.size(); begin += kChunk) {
    const size_t m = std::min(kChunk, tokens.size() - begin);
    for (size_t i = 0; i < m; ++i) {
      const auto id = static_cast<uint32_t>(tokens[begin + i]);
      if (width == 2) {
        const auto id16 = static_cast<uint16_t>(id);
        std::memcpy(buf.data() + 2 * i, &id16, 2);
      } else {
        std::memcpy(buf.data() + 4 * i, &id, 4);
      }
    }
    w.write(buf.data(), m * width);
  }
  w.commit();
}

Shard Shard::open(const std::string& path) { return parse(io::detail::map_file(path, kFormat), path); }

Shard Shard::parse(std::shared_ptr<Storage> bytes, const std::string& source) {
  const auto size = static_cast<int64_t>(bytes->nbytes());
  const auto* p = static_cast<const uint8_t*>(bytes->data());
  const std::string hint = "the file is not a complete nabla token shard; re-run nabla prepare";
  if (size < kShardHeaderBytes) {
    fail(kFormat, source, size, "file has " + std::to_string(size) + " bytes, the header needs " +
         std::to_string(kShardHeaderBytes), hint);
  }
  if (std::memcmp(p, kShardMagic, 8) != 0) fail(kFormat, source, 0, "bad magic (expected \"NABLATOK\")", hint);
  const auto version = load_le<uint32_t>(p, 8);
  if (version != kShardVersion) {
    fail(kFormat, source, 8, "unsupported version " + std::to_string(version) + " (this build reads " +
         std::to_string(kShardVersion) + ")", "re-run nabla prepare with this version of nabla");
  }
  const auto width = load_le<uint32_t>(p, 12);
  if (width != 2 && width != 4) {
    fail(kFormat, source, 12, "token width " + std::to_string(width) + " is not 2 or 4", hint);
  }
  const auto n = load_le<uint64_t>(p, 16);
  const auto vocab = load_le<uint64_t>(p, 24);
  // Compared in unsigned arithmetic before any conversion, so a hostile count can neither
  // overflow nor make anything allocate.
  const auto payload = static_cast<uint64_t>(size - kShardHeaderBytes);
  if (n > payload / width || n * width != payload) {
    fail(kFormat, source, 16, "header says " + std::to_string(n) + " tokens of " +
         std::to_string(width) + " bytes, but the file holds " + std::to_string(payload) +
         " bytes of tokens (truncated or corrupt)", hint);
  }
  if (vocab > (uint64_t{1} << 32) || (width == 2 && vocab > 65536)) {
    fail(kFormat, source, 24, "vocabulary size " + std::to_string(vocab) + " does not fit " +
         std::to_string(width) + "-byte ids", hint);
  }
  Shard s;
  s.bytes_ = std::move(bytes);
  s.source_ = source;
  s.num_tokens_ = static_cast<int64_t>(n);
  s.vocab_size_ = static_cast<int64_t>(vocab);
  s.token_bytes_ = static_cast<int>(width);
  return s;
}

int64_t Shard::operator[](int64_t i) const {
  int64_t v = 0;
  read(i, 1, &v);
  return v;
}

void Shard::read(int64_t start, int64_t n, int64_t* out) const {
  if (start < 0 || n < 0 || start > num_tokens_ || n > num_tokens_ - start) {
    fail(kFormat, source_, -1, "tokens [" + std::to_string(start) + ", " + std::to_string(start + n) +
         ") are outside the shard's " + std::to_string(num_tokens_) + " tokens");
  }
  const auto* base = static_cast<const uint8_t*>(bytes_->data()) + kShardHeaderBytes;
  if (token_bytes_ == 2) {
    for (int64_t i = 0; i < n; ++i) out[i] = load_le<uint16_t>(base, static_cast<size_t>(2 * (start + i)));
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = load_le<uint32_t>(base, static_cast<size_t>(4 * (start + i)));
  }
  if (vocab_size_ == 0) return;
  for (int64_t i = 0; i < n; ++i) {
    if (out[i] >= vocab_size_) {
      fail(kFormat, source_, kShardHeaderBytes + (start + i) * token_bytes_,
           "token " + std::to_string(start + i) + " is " + std::to_string(out[i]) +
               ", outside the vocabulary of " + std::to_string(vocab_size_),
           "the shard is corrupt; re-run nabla prepare");
    }
  }
}

}  // namespace nabla::data
