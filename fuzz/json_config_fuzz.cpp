// libFuzzer target: arbitrary bytes as a JSON config (config.json, params.json, meta.json,
// adapter_config.json all go through io::JsonConfig), then every typed getter on every key and
// nested object, as the config readers call them. A nabla::Error is the expected answer to bad
// input or a field of the wrong type; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "nabla/core/error.h"
#include "nabla/io/json_config.h"

namespace {

volatile size_t sink;

template <typename F>
void attempt(F&& f) {
  try {
    f();
  } catch (const nabla::Error&) {
  }
}

void visit(const nabla::io::JsonConfig& c, int depth) {
  size_t acc = c.dump().size();
  for (const std::string& k : c.keys()) {
    attempt([&] { acc += static_cast<size_t>(c.get_int(k)); });
    attempt([&] { acc += static_cast<size_t>(c.get_positive_int(k, 1)); });
    attempt([&] { acc += static_cast<size_t>(c.get_double(k) != 0.0); });
    attempt([&] { acc += c.get_bool(k) ? 1 : 0; });
    attempt([&] { acc += c.get_string(k).size(); });
    attempt([&] { acc += c.get_int_list(k).size(); });
    if (depth < 4) attempt([&] { visit(c.get_object(k), depth + 1); });
  }
  attempt([&] { acc += static_cast<size_t>(c.get_int("missing", 7)); });
  sink = acc;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    visit(nabla::io::JsonConfig::parse(text, "fuzz.json"), 0);
  } catch (const nabla::Error&) {
  }
  return 0;
}
