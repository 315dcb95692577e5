// JSON parsing with byte-offset errors, and JsonConfig's checked getters over nlohmann::json.
#include "nabla/io/json_config.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "io/io_util.h"
#include "io/json_internal.h"

namespace nabla::io {

namespace detail {

nlohmann::json parse_json(std::string_view text, const std::string& format,
                          const std::string& source, int64_t base_offset, int max_depth,
                          const std::string& hint) {
  using nlohmann::json;
  std::vector<std::set<std::string>> keys;  // one set per open object
  int depth = 0;
  json::parser_callback_t cb = [&](int, json::parse_event_t ev, json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (++depth > max_depth) {
          fail(format, source, -1, "JSON nested deeper than " + std::to_string(max_depth), hint);
        }
        if (ev == json::parse_event_t::object_start) keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        keys.pop_back();
        --depth;
        break;
      case json::parse_event_t::array_end:
        --depth;
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second) {
          fail(format, source, -1, "duplicate JSON key \"" + parsed.get<std::string>() + "\"",
               hint);
        }
        break;
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), cb);
  } catch (const json::parse_error& e) {
    // e.byte is 1-based: the position of the offending character.
    const int64_t at = base_offset + static_cast<int64_t>(e.byte > 0 ? e.byte - 1 : 0);
    fail(format, source, at, std::string("invalid JSON: ") + e.what(), hint);
  } catch (const json::exception& e) {  // e.g. out_of_range: a number beyond double (1e400)
    fail(format, source, -1, std::string("invalid JSON: ") + e.what(), "fix that value");
  }
}

std::string read_text_file(const std::string& path, const std::string& format,
                           size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(format, path, -1, "cannot open: " + std::string(std::strerror(errno)), "check the path");
  std::string text;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > max_bytes) {
      fail(format, path, -1, "larger than " + std::to_string(max_bytes) + " bytes",
           "this does not look like a configuration file");
    }
  }
  if (in.bad()) fail(format, path, -1, "read failed");
  return text;
}

}  // namespace detail

struct JsonConfig::Impl {
  nlohmann::json value;
  std::string source;
  std::string prefix;  // "rope_scaling." for nested objects
};

namespace {
constexpr int kMaxConfigDepth = 64;
constexpr size_t kMaxConfigBytes = size_t{64} << 20;

[[noreturn]] void bad_field(const std::string& source, const std::string& field,
                            const std::string& expected, const nlohmann::json& got) {
  std::string text = got.dump();
  constexpr size_t kShown = 80;  // a whole array in the message would bury the point
  if (text.size() > kShown) text = text.substr(0, kShown) + "...";
  throw IoError(source + ": " + field + " must be " + expected + ", got " + text);
}
}  // namespace

JsonConfig::JsonConfig(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

JsonConfig JsonConfig::parse(const std::string& text, const std::string& source) {
  auto v = detail::parse_json(text, "json", source, 0, kMaxConfigDepth,
                              "fix the JSON syntax at that byte");
  if (!v.is_object()) {
    throw IoError(source + ": expected a JSON object at the top level, got " +
                  std::string(v.type_name()));
  }
  return JsonConfig(std::make_shared<const Impl>(Impl{std::move(v), source, ""}));
}

JsonConfig JsonConfig::load(const std::string& path) {
  return parse(detail::read_text_file(path, "json", kMaxConfigBytes), path);
}

bool JsonConfig::contains(const std::string& key) const { return impl_->value.contains(key); }

std::vector<std::string> JsonConfig::keys() const {
  std::vector<std::string> out;
  for (const auto& item : impl_->value.items()) out.push_back(item.key());
  return out;
}

namespace {
const nlohmann::json& field(const JsonConfig::Impl& impl, const std::string& key) {
  auto it = impl.value.find(key);
  if (it == impl.value.end()) {
    throw IoError(impl.source + ": missing field " + impl.prefix + key +
                  "\n---> HINT: add it to the file, or check the spelling");
  }
  return *it;
}

bool as_int(const nlohmann::json& v, int64_t* out) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(u);
    return true;
  }
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return true;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    // 2^63 is exactly representable; anything at or above it does not fit.
    if (std::isfinite(d) && d == std::floor(d) && d >= -0x1p63 && d < 0x1p63) {
      *out = static_cast<int64_t>(d);
      return true;
    }
  }
  return false;
}
}  // namespace

int64_t JsonConfig::get_int(const std::string& key) const {
  const auto& v = field(*impl_, key);
  int64_t out = 0;
  if (!as_int(v, &out)) bad_field(impl_->source, impl_->prefix + key, "an integer", v);
  return out;
}

int64_t JsonConfig::get_int(const std::string& key, int64_t fallback) const {
  return contains(key) ? get_int(key) : fallback;
}

int64_t JsonConfig::get_positive_int(const std::string& key) const {
  const auto& v = field(*impl_, key);
  int64_t out = 0;
  if (!as_int(v, &out) || out <= 0) {
    bad_field(impl_->source, impl_->prefix + key, "a positive integer", v);
  }
  return out;
}

int64_t JsonConfig::get_positive_int(const std::string& key, int64_t fallback) const {
  return contains(key) ? get_positive_int(key) : fallback;
}

double JsonConfig::get_double(const std::string& key) const {
  const auto& v = field(*impl_, key);
  if (!v.is_number()) bad_field(impl_->source, impl_->prefix + key, "a number", v);
  return v.get<double>();
}

double JsonConfig::get_double(const std::string& key, double fallback) const {
  return contains(key) ? get_double(key) : fallback;
}

bool JsonConfig::get_bool(const std::string& key) const {
  const auto& v = field(*impl_, key);
  if (!v.is_boolean()) bad_field(impl_->source, impl_->prefix + key, "true or false", v);
  return v.get<bool>();
}

bool JsonConfig::get_bool(const std::string& key, bool fallback) const {
  return contains(key) ? get_bool(key) : fallback;
}

std::string JsonConfig::get_string(const std::string& key) const {
  const auto& v = field(*impl_, key);
  if (!v.is_string()) bad_field(impl_->source, impl_->prefix + key, "a string", v);
  return v.get<std::string>();
}

std::string JsonConfig::get_string(const std::string& key, const std::string& fallback) const {
  return contains(key) ? get_string(key) : fallback;
}

std::vector<int64_t> JsonConfig::get_int_list(const std::string& key) const {
  const auto& v = field(*impl_, key);
  if (!v.is_array()) bad_field(impl_->source, impl_->prefix + key, "an array of integers", v);
  std::vector<int64_t> out;
  for (const auto& e : v) {
    int64_t x = 0;
    if (!as_int(e, &x)) bad_field(impl_->source, impl_->prefix + key, "an array of integers", v);
    out.push_back(x);
  }
  return out;
}

JsonConfig JsonConfig::get_object(const std::string& key) const {
  const auto& v = field(*impl_, key);
  if (!v.is_object()) bad_field(impl_->source, impl_->prefix + key, "an object", v);
  return JsonConfig(
      std::make_shared<const Impl>(Impl{v, impl_->source, impl_->prefix + key + "."}));
}

std::string JsonConfig::dump() const { return impl_->value.dump(); }

const std::string& JsonConfig::source() const { return impl_->source; }

}  // namespace nabla::io
