// libFuzzer target: arbitrary bytes as a torch.save zip checkpoint (.pth), parsed from memory. A
// nabla::Error is the expected answer to bad input; anything else (crash, sanitizer report, other
// exception, huge allocation) is a bug. Every byte of every returned tensor is read so that a view
// reaching outside the buffer shows up under ASan.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "nabla/io/torch_pth.h"

namespace {
volatile uint8_t sink;

void touch(const nabla::Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw_data());
  uint8_t acc = 0;
  for (size_t i = 0; i < t.nbytes(); ++i) acc ^= p[i];
  sink = acc;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto buf = std::make_shared<nabla::Storage>(size, nabla::Device());
  if (size > 0)
    std::memcpy(buf->data(), data, size);
  try {
    const nabla::io::Weights w = nabla::io::parse_torch_pth(buf, "fuzz");
    for (const auto& e : w.entries()) touch(e.tensor);
  } catch (const nabla::Error&) {
    return 0;
  }
  return 0;
}
