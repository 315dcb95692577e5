// libFuzzer target: arbitrary bytes as a token shard, parsed from memory. A nabla::Error is the
// expected answer to bad input; anything else (crash, sanitizer report, other exception, huge
// allocation) is a bug. Every token of an accepted shard is read so that a read outside the
// buffer shows up under ASan.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "nabla/core/error.h"
#include "nabla/data/shard.h"

namespace {
volatile int64_t sink;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto buf = std::make_shared<nabla::Storage>(size, nabla::Device());
  if (size > 0) std::memcpy(buf->data(), data, size);
  try {
    const nabla::data::Shard s = nabla::data::Shard::parse(buf, "fuzz");
    std::vector<int64_t> out(256);
    int64_t acc = 0;
    for (int64_t i = 0; i < s.size(); i += 256) {
      const int64_t n = std::min<int64_t>(256, s.size() - i);
      s.read(i, n, out.data());
      for (int64_t j = 0; j < n; ++j) acc ^= out[static_cast<size_t>(j)];
    }
    sink = acc;
  } catch (const nabla::Error&) {
    return 0;
  }
  return 0;
}
