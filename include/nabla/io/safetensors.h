// safetensors, nabla's native checkpoint format (https://github.com/huggingface/safetensors):
//   u64 N (little-endian) | N bytes of JSON header | data buffer
// header = {name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//           "__metadata__": {str: str}}; offsets are relative to the data buffer.
// Loading validates the whole header before touching any tensor data; F16 is widened to f32.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nabla/core/storage.h"
#include "nabla/core/tensor.h"
#include "nabla/io/weights.h"

namespace nabla::io {

/// Largest header accepted when reading, as in the reference implementation (100 MB).
constexpr int64_t kSafetensorsMaxHeader = int64_t{100} << 20;

/// Loads a .safetensors file. The file is memory-mapped: tensors view the mapping without a
/// copy (copy-on-write, so in-place edits never reach the file), except F16 tensors (widened to
/// f32) and tensors whose offset is misaligned for their dtype (copied). Every header field is
/// checked first; any problem throws IoError naming the file, the byte offset and a hint.
Weights load_safetensors(const std::string& path);

/// Parses a whole safetensors file held in buffer (same checks and views as
/// load_safetensors); source names it in messages.
Weights parse_safetensors(std::shared_ptr<Storage> buffer, const std::string& source = "<memory>");

/// Writes tensors (in this order, grouped by element size so every tensor stays aligned) and
/// metadata atomically: to "<path>.tmp.<pid>", fsync, rename, fsync of the directory. On any
/// failure path keeps its previous contents and the temporary file is removed.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});
/// Writes all of weights' tensors and its metadata.
void save_safetensors(const std::string& path, const Weights& weights);

}  // namespace nabla::io
