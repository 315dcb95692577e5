// Sharded safetensors checkpoints (Hugging Face's model.safetensors.index.json):
//   {"metadata": {...}, "weight_map": {tensor name: shard file name, ...}}
// with the shards in the index file's folder.
#pragma once

#include <string>

#include "nabla/io/weights.h"

namespace nabla::io {

/// Loads every shard named by the index (each memory-mapped as load_safetensors does) into
/// one Weights whose source is the index path. A shard that does not exist, a tensor the
/// index places in one shard but found in another or in none, and a shard tensor absent from
/// the index all throw IoError naming the tensor and the shard file.
Weights load_safetensors_index(const std::string& index_path);

/// load_safetensors_index for "*.index.json" paths, load_safetensors otherwise; a folder
/// loads its model.safetensors.index.json, else its model.safetensors.
Weights load_safetensors_any(const std::string& path);

}  // namespace nabla::io
