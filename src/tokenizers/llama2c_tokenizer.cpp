// llama2.c tokenizer.bin: a bounds-checked parser and run.c's encode/decode (the greedy
// best-score merge loop done with a priority queue).
#include "nabla/tokenizers/llama2c_tokenizer.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <queue>

#include "nabla/core/error.h"

namespace nabla::tokenizers {
namespace {

constexpr int64_t kMinVocab = 259;  // <unk>, BOS, EOS and the 256 byte tokens
constexpr int32_t kMaxTokenLength = 1 << 16;

template <typename T>
T read_le(std::span<const uint8_t> data, size_t offset) {
  T v;
  std::memcpy(&v, data.data() + offset, sizeof(T));  // x86/ARM are little-endian like the file
  return v;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

Llama2cTokenizer Llama2cTokenizer::load(const std::string& path, int64_t vocab_size) {
  std::ifstream in(path, std::ios::binary);
  NABLA_CHECK_IO(in.good(), "llama2c tokenizer: cannot open ", path);
  const std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  return from_bytes(data, vocab_size, path);
}

Llama2cTokenizer Llama2cTokenizer::from_bytes(std::span<const uint8_t> data, int64_t vocab_size,
                                              const std::string& name) {
  NABLA_CHECK_IO(vocab_size == -1 || vocab_size >= kMinVocab, "llama2c tokenizer: vocab_size ",
                 vocab_size, " is too small (", name, "): llama2.c's layout needs at least ",
                 kMinVocab, " tokens (<unk>, BOS, EOS, 256 byte tokens)");
  const size_t n = data.size();
  NABLA_CHECK_IO(n >= 4, "llama2c tokenizer: ", name, " is truncated: ", n,
                 " bytes, expected an int32 max_token_length (", name, ", offset 0)");
  Llama2cTokenizer t;
  t.max_token_length_ = read_le<int32_t>(data, 0);
  NABLA_CHECK_IO(t.max_token_length_ > 0 && t.max_token_length_ <= kMaxTokenLength,
                 "llama2c tokenizer: max_token_length ", t.max_token_length_,
                 " is not in [1, ", kMaxTokenLength, "] (", name, ", offset 0)");
  size_t off = 4;
  for (int64_t id = 0; vocab_size < 0 ? off < n : id < vocab_size; ++id) {
    NABLA_CHECK_IO(off + 8 <= n, "llama2c tokenizer: record ", id, " is truncated: ", n - off,
                   " bytes left, expected 8 (score, len) (", name, ", offset ", off,
                   "). HINT: vocab_size ", vocab_size, " may not match this tokenizer");
    const auto score = read_le<float>(data, off);
    const auto len = read_le<int32_t>(data, off + 4);
    NABLA_CHECK_IO(len >= 0 && len <= t.max_token_length_, "llama2c tokenizer: record ", id,
                   " has length ", len, ", expected 0..max_token_length=", t.max_token_length_,
                   " (", name, ", offset ", off + 4, ")");
    off += 8;
    NABLA_CHECK_IO(off + len <= n, "llama2c tokenizer: record ", id, " is truncated: needs ", len,
                   " bytes, ", n - off, " left (", name, ", offset ", off, ")");
    t.pieces_.emplace_back(reinterpret_cast<const char*>(data.data() + off), len);
    t.scores_.push_back(score);
    off += len;
  }
  NABLA_CHECK_IO(off == n, "llama2c tokenizer: ", n - off, " bytes after the ", vocab_size,
                 " records (", name, ", offset ", off,
                 "). HINT: the model's vocab_size does not match this tokenizer");
  NABLA_CHECK_IO(static_cast<int64_t>(t.pieces_.size()) >= kMinVocab, "llama2c tokenizer: ",
                 name, " has ", t.pieces_.size(), " tokens, expected at least ", kMinVocab,
                 " (<unk>, BOS, EOS, 256 byte tokens) (", name, ", offset ", off, ")");
  for (size_t id = 0; id < t.pieces_.size(); ++id) {
    t.ids_.emplace(t.pieces_[id], static_cast<int32_t>(id));  // keeps the lowest id
  }
  return t;
}

int32_t Llama2cTokenizer::lookup(std::string_view s) const {
  auto it = ids_.find(s);
  return it == ids_.end() ? -1 : it->second;
}

std::vector<int32_t> Llama2cTokenizer::encode(std::string_view text) const {
  return encode(text, true, false);
}

std::vector<int32_t> Llama2cTokenizer::encode(std::string_view text, bool bos, bool eos) const {
  std::vector<int32_t> tokens;
  tokens.reserve(text.size() + 3);
  if (!text.empty()) {  // SentencePiece's add_dummy_prefix
    const int32_t space = lookup(" ");
    NABLA_CHECK(space >= 0, "llama2c tokenizer: the vocabulary has no \" \" piece for the dummy "
                            "prefix, so text cannot be encoded");
    tokens.push_back(space);
  }
  // One piece per UTF-8 character as run.c splits them: a non-continuation byte starts one,
  // continuation bytes extend it up to 4 bytes. Unknown characters become byte tokens.
  std::string buf;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<uint8_t>(text[i]) & 0xC0) != 0x80) buf.clear();
    buf.push_back(text[i]);
    if (i + 1 < text.size() && (static_cast<uint8_t>(text[i + 1]) & 0xC0) == 0x80 &&
        buf.size() < 4) {
      continue;
    }
    const int32_t id = lookup(buf);
    if (id >= 0) {
      tokens.push_back(id);
    } else {
      for (const char c : buf) tokens.push_back(static_cast<uint8_t>(c) + 3);
    }
    buf.clear();
  }
  merge(tokens);
  // BOS is a control token, never part of a merge (run.c would merge it with the text where a
  // vocabulary held the concatenated piece; the real ones do not, so the ids are run.c's).
  if (bos) tokens.insert(tokens.begin(), 1);
  if (eos) tokens.push_back(2);
  return tokens;
}

void Llama2cTokenizer::merge(std::vector<int32_t>& tokens) const {
  // run.c repeatedly merges the pair with the highest score (> -1e10), leftmost on ties. A
  // heap over (score, position) with entries checked against the current pair at pop time
  // does the same: every current pair has an entry, and stale entries are skipped.
  struct Cand {
    float score;
    int32_t pos, left, right, merged;
    bool operator<(const Cand& o) const {  // priority_queue pops the largest
      return score != o.score ? score < o.score : pos > o.pos;
    }
  };
  const auto n = static_cast<int32_t>(tokens.size());
  std::vector<int32_t> next(n), prev(n);
  for (int32_t i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  std::priority_queue<Cand> heap;
  std::string buf;
  auto push = [&](int32_t pos) {
    if (pos < 0 || next[pos] < 0) return;
    const int32_t l = tokens[pos], r = tokens[next[pos]];
    buf.assign(pieces_[l]).append(pieces_[r]);
    const int32_t id = lookup(buf);
    if (id >= 0 && scores_[id] > -1e10f) heap.push({scores_[id], pos, l, r, id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const int32_t r = next[c.pos];
    if (tokens[c.pos] != c.left || r < 0 || tokens[r] != c.right) continue;  // stale
    tokens[c.pos] = c.merged;
    next[c.pos] = next[r];
    if (next[r] >= 0) prev[next[r]] = c.pos;
    tokens[r] = -1;
    push(prev[c.pos]);
    push(c.pos);
  }
  int32_t out = 0;
  for (int32_t i = 0; i < n; ++i) {
    if (tokens[i] >= 0) tokens[out++] = tokens[i];
  }
  tokens.resize(out);
}

std::string Llama2cTokenizer::decode_piece(int32_t prev, int32_t id) const {
  NABLA_CHECK(id >= 0 && id < static_cast<int32_t>(pieces_.size()), "llama2c tokenizer: token id ",
              id, " is out of range [0, ", pieces_.size(), ")");
  if (id == 1) return {};  // BOS: run.c never prints it
  std::string_view p = pieces_[id];
  if (prev == 1 && !p.empty() && p[0] == ' ') p.remove_prefix(1);  // llama2.c PR #89
  if (p.size() == 6 && p.starts_with("<0x") && p[5] == '>') {
    const int hi = hex_digit(p[3]), lo = hex_digit(p[4]);
    if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
  }
  return std::string(p);
}

}  // namespace nabla::tokenizers
