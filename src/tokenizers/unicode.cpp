// UTF-8 decoding (strict, as Python's decoder) and character class lookup.
#include "tokenizers/unicode.h"

#include <algorithm>
#include <array>

namespace nabla::tokenizers::detail {
namespace {

constexpr std::array<CharClass, 128> make_ascii_classes() {
  std::array<CharClass, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      t[c] = kLetter;
    } else if (c >= '0' && c <= '9') {
      t[c] = kNumber;
    } else if (c == ' ' || (c >= 0x09 && c <= 0x0D)) {
      t[c] = kSpace;
    }
  }
  return t;
}
constexpr std::array<CharClass, 128> kAscii = make_ascii_classes();

// Expected sequence length and the allowed range of the second byte for a lead byte, per
// Unicode Table 3-7 (well-formed UTF-8 byte sequences); 0 = not a lead byte.
struct Lead {
  int len;
  uint8_t lo, hi;
};
Lead lead_of(uint8_t b) {
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

}  // namespace

CharClass char_class(uint32_t cp) {
  if (cp < 128) return kAscii[cp];
  const UnicodeRange* end = kUnicodeRanges + kUnicodeRangeCount;
  const UnicodeRange* it = std::upper_bound(
      kUnicodeRanges, end, cp, [](uint32_t c, const UnicodeRange& r) { return c < r.lo; });
  if (it == kUnicodeRanges) return kOther;
  --it;
  return cp <= it->hi ? it->cls : kOther;
}

int utf8_next(std::string_view s, size_t i, uint32_t* cp) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  const Lead lead = lead_of(b0);
  if (lead.len == 0 || i + lead.len > s.size()) {
    *cp = kInvalidBase + b0;
    return 1;
  }
  const auto b1 = static_cast<uint8_t>(s[i + 1]);
  bool ok = b1 >= lead.lo && b1 <= lead.hi;
  for (int k = 2; ok && k < lead.len; ++k) {
    ok = (static_cast<uint8_t>(s[i + k]) & 0xC0) == 0x80;
  }
  if (!ok) {
    *cp = kInvalidBase + b0;
    return 1;
  }
  uint32_t v = b0 & (0x7F >> lead.len);
  for (int k = 1; k < lead.len; ++k) v = (v << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
  *cp = v;
  return lead.len;
}

size_t utf8_complete_prefix(std::string_view s) {
  // Only the last 3 bytes can be the start of an unfinished sequence.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const size_t i = n - back;
    const auto b = static_cast<uint8_t>(s[i]);
    if ((b & 0xC0) == 0x80) continue;  // continuation: look further back for its lead
    const Lead lead = lead_of(b);
    if (lead.len == 0 || static_cast<size_t>(lead.len) <= back) return n;
    // A prefix of a well-formed sequence? Then more bytes may complete it.
    bool viable = back < 2 || (static_cast<uint8_t>(s[i + 1]) >= lead.lo &&
                               static_cast<uint8_t>(s[i + 1]) <= lead.hi);
    return viable ? i : n;
  }
  return n;
}

}  // namespace nabla::tokenizers::detail
