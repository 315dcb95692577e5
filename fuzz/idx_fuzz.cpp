// libFuzzer target: arbitrary bytes (raw IDX or gzip) into the in-memory IDX parser. A
// nabla::Error is the expected answer to bad input; anything else (crash, sanitizer report,
// other exception, huge allocation) is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "nabla/io/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const nabla::Tensor t = nabla::io::parse_idx(std::span<const uint8_t>(data, size), "fuzz");
    (void)t.numel();
  } catch (const nabla::Error&) {
    return 0;
  }
  return 0;
}
