// UTF-8 decoding and the Unicode character classes of GPT-2's pre-tokenisation regex
// (\p{L}, \p{N}, \s). The range tables are generated into unicode_tables.cpp.
#pragma once

#include <cstdint>
#include <string_view>

namespace nabla::tokenizers::detail {

enum CharClass : uint8_t { kOther = 0, kLetter, kNumber, kSpace };

struct UnicodeRange {
  uint32_t lo, hi;  // inclusive
  CharClass cls;
};

extern const char* const kUnicodeVersion;
extern const int kUnicodeRangeCount;
extern const UnicodeRange kUnicodeRanges[];

/// The class of a code point; values above U+10FFFF (invalid bytes, see utf8_next) are kOther.
CharClass char_class(uint32_t cp);

/// Length (1-4) of the code point starting at s[i] and its value in *cp. A byte that does not
/// start a well-formed sequence (stray continuation, truncated, overlong, surrogate, > U+10FFFF:
/// the sequences Python's strict UTF-8 decoder rejects) is one "code point" of length 1 with
/// value kInvalidBase + byte, so decoding is total and maps every byte exactly once.
constexpr uint32_t kInvalidBase = 0x110000;
int utf8_next(std::string_view s, size_t i, uint32_t* cp);

/// Length of the longest prefix of s that does not end inside a sequence that could still be
/// completed by more bytes (the streaming decoders hold the rest back).
size_t utf8_complete_prefix(std::string_view s);

}  // namespace nabla::tokenizers::detail
