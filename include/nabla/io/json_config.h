// JSON configuration files (config.json of Hugging Face models, nabla's own run configs).
// nlohmann::json stays behind this small read-only wrapper so that users of nabla's headers
// need neither the library nor its compile time; every getter checks the type and names the
// file and field when it is wrong:
//   config.json: n_embd must be a positive integer, got "abc"
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nabla::io {

/// A parsed JSON object with typed, checked field access.
class JsonConfig {
 public:
  /// Loads and parses a file; parse errors name the file and byte offset (IoError).
  static JsonConfig load(const std::string& path);
  /// Parses text; source names it in messages.
  static JsonConfig parse(const std::string& text, const std::string& source = "<memory>");

  bool contains(const std::string& key) const;
  /// The object's keys, sorted.
  std::vector<std::string> keys() const;

  /// An integer field (a float with an integral value is accepted, e.g. 768.0).
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  /// An integer field > 0.
  int64_t get_positive_int(const std::string& key) const;
  int64_t get_positive_int(const std::string& key, int64_t fallback) const;
  /// A number field (integer or float).
  double get_double(const std::string& key) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  /// An array of integers.
  std::vector<int64_t> get_int_list(const std::string& key) const;
  /// A nested object; its messages name the field path ("rope_scaling.factor").
  JsonConfig get_object(const std::string& key) const;

  /// The JSON text (compact).
  std::string dump() const;
  const std::string& source() const;

  /// Opaque state (defined in json_config.cpp).
  struct Impl;

 private:
  explicit JsonConfig(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace nabla::io
