// JSON parsing for src/io (nlohmann::json stays out of public headers): parse errors name the
// source and the byte offset; duplicate keys, which nlohmann would silently collapse, and
// absurd nesting are rejected.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace nabla::io::detail {

/// Parses text as JSON. On failure throws IoError "<format>: <what> (<source>, offset N)"
/// where N is base_offset + the byte offset of the error within text.
nlohmann::json parse_json(std::string_view text, const std::string& format,
                          const std::string& source, int64_t base_offset, int max_depth,
                          const std::string& hint);

/// Reads a whole (small) text file; throws IoError naming path when it cannot.
std::string read_text_file(const std::string& path, const std::string& format,
                           size_t max_bytes);

}  // namespace nabla::io::detail
