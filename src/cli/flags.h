// Parsing of subcommand flags shared by the cmd_<name>.cpp files: numbers with clear errors
// naming the command and the flag.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>

#include "nabla/core/error.h"

namespace nabla::cli {

inline int64_t parse_int(const std::string& cmd, const std::string& flag, const std::string& v) {
  int64_t out = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  NABLA_CHECK(r.ec == std::errc() && r.ptr == v.data() + v.size(), cmd, ": ", flag,
              " expects an integer, got '", v, "'");
  return out;
}

inline double parse_double(const std::string& cmd, const std::string& flag, const std::string& v) {
  size_t used = 0;
  double out = 0;
  try {
    out = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  NABLA_CHECK(used == v.size() && !v.empty(), cmd, ": ", flag, " expects a number, got '", v, "'");
  return out;
}

}  // namespace nabla::cli
