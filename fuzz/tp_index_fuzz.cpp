// libFuzzer target: arbitrary bytes as a tensor-parallel checkpoint index
// (model-tp.index.json). A nabla::Error is the expected answer to bad input; an index that
// parses must write back to JSON that parses to the same index.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "nabla/core/error.h"
#include "nabla/io/tp_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nabla::io::TpIndex index;
  try {
    index = nabla::io::parse_tp_index(text, "fuzz.json");
  } catch (const nabla::Error&) {
    return 0;
  }
  const nabla::io::TpIndex back =
      nabla::io::parse_tp_index(nabla::io::tp_index_to_json(index), "round trip");
  if (back.shards != index.shards || back.tensors != index.tensors)
    std::abort();
  return 0;
}
