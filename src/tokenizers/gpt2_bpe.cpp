// GPT-2 byte-level BPE: loading encoder.json/vocab.bpe, the hand-written pre-tokeniser (GPT-2's
// regex), and rank-ordered merging with a priority queue plus a per-piece cache.
#include "nabla/tokenizers/gpt2_bpe.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <functional>
#include <queue>
#include <sstream>

#include <nlohmann/json.hpp>

#include "nabla/core/error.h"
#include "tokenizers/unicode.h"

namespace nabla::tokenizers {
namespace {

using detail::CharClass;

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100.. in
// byte order, so every token string is printable.
struct ByteLevel {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 324> to_byte{};  // code point -> byte, -1 if none
  ByteLevel() {
    to_byte.fill(-1);
    uint32_t extra = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      to_cp[b] = printable ? static_cast<uint32_t>(b) : extra++;
      to_byte[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};
const ByteLevel& byte_level() {
  static const ByteLevel table;
  return table;
}

// Raw bytes of a byte-level token string; false when it holds a character outside the table.
bool from_byte_level(std::string_view s, std::string* out) {
  out->clear();
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    i += detail::utf8_next(s, i, &cp);
    if (cp >= byte_level().to_byte.size() || byte_level().to_byte[cp] < 0) return false;
    out->push_back(static_cast<char>(byte_level().to_byte[cp]));
  }
  return true;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  NABLA_CHECK_IO(in.good(), "gpt2 tokenizer: cannot open ", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Class of the code point at s[i] and its length.
inline CharClass class_at(std::string_view s, size_t i, int* len) {
  const auto b = static_cast<uint8_t>(s[i]);
  if (b < 0x80) {
    *len = 1;
    return detail::char_class(b);
  }
  uint32_t cp = 0;
  *len = detail::utf8_next(s, i, &cp);
  return detail::char_class(cp);
}

// End of the run of code points of class cls starting at i.
size_t run_end(std::string_view s, size_t i, CharClass cls) {
  int len = 0;
  while (i < s.size() && class_at(s, i, &len) == cls) i += len;
  return i;
}

// End of the regex match that starts at i (the regex matches at every position, so pieces
// tile the text). Alternatives are tried in the regex's order.
size_t next_piece(std::string_view s, size_t i) {
  const size_t n = s.size();
  if (s[i] == '\'' && i + 1 < n) {  // 's|'t|'re|'ve|'m|'ll|'d
    const char c = s[i + 1];
    if (c == 's' || c == 't' || c == 'm' || c == 'd') return i + 2;
    if (i + 2 < n) {
      const std::string_view two = s.substr(i + 1, 2);
      if (two == "re" || two == "ve" || two == "ll") return i + 3;
    }
  }
  int len = 0;
  size_t start = i;
  CharClass cls = class_at(s, i, &len);
  if (s[i] == ' ' && i + 1 < n) {  // " ?" before a letter, number or other run
    int len1 = 0;
    const CharClass next = class_at(s, i + 1, &len1);
    if (next != detail::kSpace) {
      cls = next;
      start = i + 1;
    }
  }
  if (cls != detail::kSpace) return run_end(s, start, cls);  // ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+
  // \s+(?!\S)|\s+ : a whitespace run; before a non-space it gives its last character to the
  // next piece (so " word" keeps its space), unless the run is a single character.
  size_t last = i, j = i;
  while (j < n && class_at(s, j, &len) == detail::kSpace) {
    last = j;
    j += len;
  }
  if (j == n || last == i) return j;
  return last;
}

// Reads encoder.json's {"token": id, ...} with nlohmann's SAX interface: building the DOM (a
// std::map of 50257 json values) would triple the load time.
class EncoderJsonReader : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::vector<std::pair<std::string, int64_t>> entries;
  std::string error;

  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool number_integer(number_integer_t v) override { return entry(v); }
  bool number_unsigned(number_unsigned_t v) override {
    return entry(v > static_cast<uint64_t>(INT64_MAX) ? -1 : static_cast<int64_t>(v));
  }
  bool start_object(std::size_t) override { return ++depth_ == 1 || fail("a nested object"); }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool null() override { return fail("null"); }
  bool boolean(bool) override { return fail("a boolean"); }
  bool number_float(number_float_t, const string_t&) override { return fail("a float"); }
  bool string(string_t&) override { return fail("a string"); }
  bool binary(binary_t&) override { return fail("binary data"); }
  bool start_array(std::size_t) override { return fail("an array"); }
  bool end_array() override { return true; }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception&) override {
    error = "is not valid JSON at byte " + std::to_string(pos);
    return false;
  }

 private:
  bool entry(int64_t v) {
    if (depth_ != 1) return fail("a number outside the top-level object");
    entries.emplace_back(std::move(key_), v);
    return true;
  }
  bool fail(const char* what) {
    if (error.empty()) error = std::string("holds ") + what + ", expected only \"token\": id pairs";
    return false;
  }
  std::string key_;
  int depth_ = 0;
};

}  // namespace

GPT2Tokenizer::GPT2Tokenizer(const std::string& encoder_json_path,
                             const std::string& vocab_bpe_path) {
  load_encoder(encoder_json_path);
  load_merges(vocab_bpe_path);
}

std::unique_ptr<GPT2Tokenizer> GPT2Tokenizer::from_directory(const std::string& dir) {
  return std::make_unique<GPT2Tokenizer>(dir + "/encoder.json", dir + "/vocab.bpe");
}

void GPT2Tokenizer::load_encoder(const std::string& path) {
  EncoderJsonReader reader;
  const bool ok = nlohmann::json::sax_parse(read_file(path), &reader);
  NABLA_CHECK_IO(ok && reader.error.empty(), "gpt2 tokenizer: ", path, " ", reader.error,
                 " (expected OpenAI's encoder.json)");
  const size_t n = reader.entries.size();
  NABLA_CHECK_IO(n > 0, "gpt2 tokenizer: ", path, " must be a non-empty JSON object");
  id_to_bytes_.assign(n, {});
  bytes_to_id_.reserve(n);
  std::vector<bool> seen(n, false);
  std::string bytes;
  for (const auto& [key, value] : reader.entries) {
    NABLA_CHECK_IO(value >= 0 && value < static_cast<int64_t>(n), "gpt2 tokenizer: ", path,
                   ": id of token \"", key, "\" is ", value, ", expected an integer in [0, ", n,
                   ")");
    const auto id = static_cast<int32_t>(value);
    NABLA_CHECK_IO(!seen[id], "gpt2 tokenizer: ", path, ": id ", id, " is used twice");
    seen[id] = true;
    NABLA_CHECK_IO(from_byte_level(key, &bytes), "gpt2 tokenizer: ", path, ": token \"", key,
                   "\" (id ", id, ") has a character outside GPT-2's byte-level alphabet");
    if (key == "<|endoftext|>") {
      eot_id_ = id;
      specials_.emplace_back(key, id);
    }
    id_to_bytes_[id] = bytes;
    bytes_to_id_.emplace(bytes, id);
  }
  for (int b = 0; b < 256; ++b) {
    auto it = bytes_to_id_.find(std::string(1, static_cast<char>(b)));
    NABLA_CHECK_IO(it != bytes_to_id_.end(), "gpt2 tokenizer: ", path, " has no token for byte ",
                   b, " (every byte needs one)");
    byte_id_[b] = it->second;
  }
}

void GPT2Tokenizer::load_merges(const std::string& path) {
  const std::string text = read_file(path);
  // Rank at which each token id is created by a merge (-1: a single byte, never created).
  std::vector<int32_t> created(id_to_bytes_.size(), INT32_MAX);
  for (int b = 0; b < 256; ++b) created[byte_id_[b]] = -1;
  std::string_view rest = text;
  std::string a, b, raw_a, raw_b;
  int32_t rank = 0;
  for (int64_t line_no = 1; !rest.empty(); ++line_no) {
    const size_t eol = std::min(rest.find('\n'), rest.size());
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(std::min(eol + 1, rest.size()));
    if (line.empty() || (line_no == 1 && line.starts_with("#"))) continue;
    const size_t sp = line.find(' ');
    const bool two = sp != 0 && sp != std::string_view::npos && sp + 1 < line.size() &&
                     line.find_first_of(" \t\r", sp + 1) == std::string_view::npos;
    NABLA_CHECK_IO(two, "gpt2 tokenizer: ", path, ":", line_no,
                   ": expected two tokens separated by a space, got \"", line, "\"");
    a = line.substr(0, sp);
    b = line.substr(sp + 1);
    NABLA_CHECK_IO(from_byte_level(a, &raw_a) && from_byte_level(b, &raw_b), "gpt2 tokenizer: ",
                   path, ":", line_no, ": a character outside GPT-2's byte-level alphabet");
    auto ia = bytes_to_id_.find(raw_a), ib = bytes_to_id_.find(raw_b),
         im = bytes_to_id_.find(raw_a + raw_b);
    NABLA_CHECK_IO(ia != bytes_to_id_.end() && ib != bytes_to_id_.end() &&
                       im != bytes_to_id_.end(),
                   "gpt2 tokenizer: ", path, ":", line_no, ": merge \"", line,
                   "\" uses or makes a token that is not in encoder.json");
    // Merging with a priority queue equals the reference's round-by-round merging when each
    // merge uses only tokens made by earlier lines and makes a new token: true for GPT-2.
    NABLA_CHECK_IO(created[ia->second] < rank && created[ib->second] < rank &&
                       created[im->second] == INT32_MAX,
                   "gpt2 tokenizer: ", path, ":", line_no, ": merge \"", line,
                   "\" uses a token made by a later line or remakes an existing token");
    created[im->second] = rank;
    const uint64_t key = (static_cast<uint64_t>(ia->second) << 32) | static_cast<uint32_t>(ib->second);
    merges_.emplace(key, Merge{rank, im->second});
    ++rank;
  }
}

std::vector<std::string> GPT2Tokenizer::special_tokens() const {
  std::vector<std::string> out;
  for (const auto& [s, id] : specials_) out.push_back(s);
  return out;
}

void GPT2Tokenizer::clear_cache() const {
  std::lock_guard<std::mutex> lock(cache_mutex_);
  cache_.clear();
}

std::vector<std::string_view> GPT2Tokenizer::pre_tokenize(std::string_view text) const {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < text.size();) {
    const size_t end = next_piece(text, i);
    out.push_back(text.substr(i, end - i));
    i = end;
  }
  return out;
}

std::vector<int32_t> GPT2Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 1);
  encode_ordinary(text, out);
  return out;
}

std::vector<int32_t> GPT2Tokenizer::encode(std::string_view text,
                                           const std::vector<std::string>& allowed_special) const {
  std::vector<std::pair<std::string_view, int32_t>> allowed;
  for (const std::string& s : allowed_special) {
    auto it = std::find_if(specials_.begin(), specials_.end(),
                           [&](const auto& sp) { return sp.first == s; });
    NABLA_CHECK(it != specials_.end(), "gpt2 tokenizer: \"", s, "\" is not a special token");
    allowed.emplace_back(it->first, it->second);
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 1);
  while (!text.empty()) {
    size_t best = std::string_view::npos;
    const std::pair<std::string_view, int32_t>* found = nullptr;
    for (const auto& sp : allowed) {
      const size_t pos = text.find(sp.first);
      if (pos < best) {
        best = pos;
        found = &sp;
      }
    }
    encode_ordinary(text.substr(0, best == std::string_view::npos ? text.size() : best), out);
    if (found == nullptr) break;
    out.push_back(found->second);
    text.remove_prefix(best + found->first.size());
  }
  return out;
}

void GPT2Tokenizer::encode_ordinary(std::string_view text, std::vector<int32_t>& out) const {
  for (size_t i = 0; i < text.size();) {
    const size_t end = next_piece(text, i);
    encode_piece(text.substr(i, end - i), out);
    i = end;
  }
}

void GPT2Tokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.size() == 1) {
    out.push_back(byte_id_[static_cast<uint8_t>(piece[0])]);
    return;
  }
  constexpr size_t kMaxCached = 64, kMaxEntries = 1 << 17;  // bound memory on hostile input
  const bool cacheable = piece.size() <= kMaxCached;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(piece);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids = bpe(piece);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kMaxEntries) cache_.clear();
    cache_.emplace(std::string(piece), std::move(ids));
  }
}

std::vector<int32_t> GPT2Tokenizer::bpe(std::string_view piece) const {
  struct Symbol {
    int32_t id, prev, next;
  };
  const auto n = static_cast<int32_t>(piece.size());
  std::vector<Symbol> sym(n);
  for (int32_t i = 0; i < n; ++i) {
    sym[i] = {byte_id_[static_cast<uint8_t>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1};
  }
  // Min-heap of (rank << 32 | position of the left symbol): lowest rank first, then leftmost,
  // the order in which the reference merges all occurrences of its best pair.
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<>> heap;
  auto find = [&](int32_t left) -> const Merge* {
    const int32_t right = sym[left].next;
    if (right < 0) return nullptr;
    auto it = merges_.find((static_cast<uint64_t>(sym[left].id) << 32) |
                           static_cast<uint32_t>(sym[right].id));
    return it == merges_.end() ? nullptr : &it->second;
  };
  auto push = [&](int32_t left) {
    if (const Merge* m = find(left)) {
      heap.push((static_cast<uint64_t>(m->rank) << 32) | static_cast<uint32_t>(left));
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const uint64_t top = heap.top();
    heap.pop();
    const auto pos = static_cast<int32_t>(top & 0xFFFFFFFFu);
    const Merge* m = sym[pos].id < 0 ? nullptr : find(pos);
    if (m == nullptr || m->rank != static_cast<int32_t>(top >> 32)) continue;  // stale entry
    const int32_t right = sym[pos].next;
    sym[pos].id = m->id;
    sym[pos].next = sym[right].next;
    if (sym[right].next >= 0) sym[sym[right].next].prev = pos;
    sym[right].id = -1;
    if (sym[pos].prev >= 0) push(sym[pos].prev);
    push(pos);
  }
  std::vector<int32_t> ids;
  for (int32_t i = 0; i >= 0; i = sym[i].next) ids.push_back(sym[i].id);
  return ids;
}

std::string GPT2Tokenizer::decode_piece(int32_t /*prev*/, int32_t id) const {
  NABLA_CHECK(id >= 0 && id < static_cast<int32_t>(id_to_bytes_.size()), "gpt2 tokenizer: token id ",
              id, " is out of range [0, ", id_to_bytes_.size(), ")");
  return id_to_bytes_[id];
}

}  // namespace nabla::tokenizers
