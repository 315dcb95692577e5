// Tensor-parallel (sharded) checkpoints: a folder with one safetensors file per rank of a
// Megatron-style split, each holding that rank's slices under the model's Hugging Face names,
//   model-tp-00000-of-00002.safetensors, model-tp-00001-of-00002.safetensors,
//   config.json (the model's Hugging Face config), model-tp.index.json:
//   {"format": "nabla-tensor-parallel", "version": 1, "shards": 2,
//    "files": ["model-tp-00000-of-00002.safetensors", ...],
//    "tensors": {"h.0.attn.c_attn.weight": {"split_dim": 1, "parts": 3},
//                "wte.weight": {"split_dim": -1}, ...}}
// split_dim -1: replicated, every shard holds the whole tensor. parts > 1: the split dim is
// that many equal blocks (GPT-2's fused q | k | v), each split alike and kept in order. Shard r
// may hold any number of rows along the split dim; the whole tensor is the shards' slices
// concatenated in rank order (per part). Each shard's metadata repeats its rank, the shard
// count and config.json, so that shards of different checkpoints cannot be mixed. Writers put
// the index last: a folder without it is an incomplete checkpoint.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nabla/core/tensor.h"
#include "nabla/io/weights.h"

namespace nabla::io {

/// The index's file name, and the most shards an index may name (a hostile count must not
/// make the loader open or allocate for billions of files).
inline constexpr const char* kTpIndexName = "model-tp.index.json";
inline constexpr int64_t kTpMaxShards = 4096;

/// How one tensor is split over the shards.
struct TpSplit {
  int64_t dim = -1;   ///< -1: replicated
  int64_t parts = 1;  ///< equal blocks along dim, each split alike
  bool operator==(const TpSplit&) const = default;
};

/// The index of a tensor-parallel checkpoint: the shard count and, in file order, every
/// tensor with its split.
struct TpIndex {
  int64_t shards = 0;
  std::vector<std::pair<std::string, TpSplit>> tensors;
};

/// "model-tp-0000R-of-0000N.safetensors".
std::string tp_shard_file_name(int64_t rank, int64_t shards);

/// Parses and checks an index (format, version, 1 <= shards <= kTpMaxShards, the file names
/// the count implies, split_dim in [-1, 8), parts >= 1); problems throw IoError naming source.
TpIndex parse_tp_index(const std::string& json, const std::string& source = "<memory>");
/// The index as JSON text (parse_tp_index reads it back).
std::string tp_index_to_json(const TpIndex& index);

/// Whether dir holds a tensor-parallel checkpoint's index.
bool is_tp_checkpoint(const std::string& dir);

/// Rank's slice of full (a copy) for a split over shards ranks: each of split.parts blocks of
/// full.size(split.dim) cut into consecutive pieces whose sizes differ by at most one, as
/// models::tensor_parallel::shard_range does; full itself when replicated.
Tensor tp_slice(const Tensor& full, const TpSplit& split, int64_t rank, int64_t shards);
/// The whole tensor from every shard's slice (rank order), checked: same dtype, same shape
/// outside split.dim, slices divisible into split.parts. what names the tensor and its files
/// in messages.
Tensor tp_merge(const std::vector<Tensor>& slices, const TpSplit& split, const std::string& what);

/// Writes rank's shard file into dir atomically (temporary file, fsync, rename), with
/// metadata {"format": "pt", "tp_rank", "tp_shards", "config": config_json}.
void save_tp_shard(
    const std::string& dir,
    int64_t rank,
    int64_t shards,
    const std::vector<std::pair<std::string, Tensor>>& tensors,
    const std::string& config_json);
/// Writes config.json and then the index, each atomically: once the index is there, so is the
/// rest of the checkpoint.
void save_tp_index(const std::string& dir, const TpIndex& index, const std::string& config_json);
/// Removes dir's index (if any), so that the folder reads as incomplete while it is rewritten.
void remove_tp_index(const std::string& dir);

/// Loads dir's index and every shard (memory-mapped) and merges them into whole tensors, in
/// the index's order, with metadata["config"] = config.json's text. A missing shard or
/// config.json, a shard whose tensors, dtypes, shapes, rank, shard count or config disagree
/// with the index or with the other shards throw IoError naming the file.
Weights load_tp_checkpoint(const std::string& dir);

}  // namespace nabla::io
