// Tensor-parallel checkpoints: the index (parse, write), slicing a whole tensor for one rank,
// merging the ranks' slices back, and the folder's shard files. The format is described in
// nabla/io/tp_checkpoint.h.
#include "nabla/io/tp_checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/io_util.h"
#include "nabla/io/atomic_file.h"
#include "nabla/io/safetensors.h"
#include "nabla/kernels/cpu/copy.h"

namespace nabla::io {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "nabla-tensor-parallel";
constexpr const char* kFmt = "tensor-parallel checkpoint";
constexpr int64_t kMaxDims = 8;

[[noreturn]] void bad_index(const std::string& source, const std::string& what) {
  detail::fail(kFmt, source, -1, what, "the index is damaged or not written by nabla shard");
}

int64_t get_int(const nlohmann::ordered_json& j, const char* key, const std::string& source) {
  if (!j.contains(key) || !j.at(key).is_number_integer()) {
    bad_index(source, std::string("\"") + key + "\" must be an integer");
  }
  return j.at(key).get<int64_t>();
}

// One block of a tensor along a dim: indices [start, start + length).
struct Block {
  const Tensor* src;
  int64_t start, length;
};

// The blocks joined along dim (torch.cat of narrow()s; the sources agree on every other dim),
// copied straight from their strides: a new tensor outside any autograd graph, so the parsers
// need no layer above kernels.
Tensor cat_blocks(const std::vector<Block>& blocks, int64_t dim) {
  const Tensor& first = *blocks.front().src;
  Shape shape = first.shape();
  shape[dim] = 0;
  for (const Block& b : blocks) shape[dim] += b.length;
  Tensor out = Tensor::empty(shape, TensorOptions(first.dtype()));
  const size_t es = out.element_size();
  int64_t at = 0;
  for (const Block& b : blocks) {
    Shape sizes = b.src->shape();
    sizes[dim] = b.length;
    const auto* src = static_cast<const char*>(b.src->raw_data()) +
                      static_cast<size_t>(b.start * b.src->stride(dim)) * es;
    auto* dst = static_cast<char*>(out.raw_data()) + static_cast<size_t>(at * out.stride(dim)) * es;
    kernels::cpu::copy_strided_to_strided(dst, out.strides().data(), src, b.src->strides().data(),
                                          es, sizes.data(), out.dim());
    at += b.length;
  }
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  NABLA_CHECK_IO(in, kFmt, ": cannot open ", path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::string tp_shard_file_name(int64_t rank, int64_t shards) {
  char buf[64];
  std::snprintf(
      buf, sizeof buf, "model-tp-%05lld-of-%05lld.safetensors", static_cast<long long>(rank),
      static_cast<long long>(shards));
  return buf;
}

TpIndex parse_tp_index(const std::string& json, const std::string& source) {
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    bad_index(source, std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object())
    bad_index(source, "the index must be a JSON object");
  if (!j.contains("format") || j.at("format") != kFormat) {
    bad_index(source, std::string("\"format\" must be \"") + kFormat + "\"");
  }
  if (get_int(j, "version", source) != 1)
    bad_index(source, "only version 1 is supported");
  TpIndex index;
  index.shards = get_int(j, "shards", source);
  if (index.shards < 1 || index.shards > kTpMaxShards) {
    bad_index(
        source, "\"shards\" is " + std::to_string(index.shards) + ", expected 1.." +
                    std::to_string(kTpMaxShards));
  }
  if (!j.contains("files") || !j.at("files").is_array() ||
      static_cast<int64_t>(j.at("files").size()) != index.shards) {
    bad_index(source, "\"files\" must list " + std::to_string(index.shards) + " shard files");
  }
  for (int64_t r = 0; r < index.shards; ++r) {
    const auto& f = j.at("files").at(static_cast<size_t>(r));
    const std::string want = tp_shard_file_name(r, index.shards);
    if (!f.is_string() || f.get<std::string>() != want) {
      bad_index(source, "files[" + std::to_string(r) + "] must be " + want + ", got " + f.dump());
    }
  }
  if (!j.contains("tensors") || !j.at("tensors").is_object() || j.at("tensors").empty()) {
    bad_index(source, "\"tensors\" must be a non-empty object");
  }
  for (const auto& [name, spec] : j.at("tensors").items()) {
    if (!spec.is_object())
      bad_index(source, "tensors." + name + " must be an object");
    TpSplit s{
        .dim = get_int(spec, "split_dim", source),
        .parts = spec.contains("parts") ? get_int(spec, "parts", source) : 1};
    if (s.dim < -1 || s.dim >= kMaxDims || s.parts < 1 || (s.dim < 0 && s.parts != 1)) {
      bad_index(
          source, "tensors." + name + ": split_dim " + std::to_string(s.dim) + ", parts " +
                      std::to_string(s.parts) +
                      " (expected split_dim -1..7, parts >= 1, and 1 when replicated)");
    }
    index.tensors.emplace_back(name, s);
  }
  return index;
}

// One line per tensor: the index of a 70B model lists ~700 of them.
std::string tp_index_to_json(const TpIndex& index) {
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (int64_t r = 0; r < index.shards; ++r) files.push_back(tp_shard_file_name(r, index.shards));
  std::string out = "{\n  \"format\": \"" + std::string(kFormat) +
                    "\",\n  \"version\": 1,\n  \"shards\": " + std::to_string(index.shards) +
                    ",\n  \"files\": " + files.dump() + ",\n  \"tensors\": {";
  for (size_t i = 0; i < index.tensors.size(); ++i) {
    const auto& [name, s] = index.tensors[i];
    out += (i == 0 ? "\n    " : ",\n    ") + nlohmann::ordered_json(name).dump() +
           ": {\"split_dim\": " + std::to_string(s.dim) +
           (s.parts != 1 ? ", \"parts\": " + std::to_string(s.parts) : std::string()) + "}";
  }
  return out + "\n  }\n}\n";
}

bool is_tp_checkpoint(const std::string& dir) {
  return fs::exists(fs::path(dir) / kTpIndexName);
}

Tensor tp_slice(const Tensor& full, const TpSplit& split, int64_t rank, int64_t shards) {
  NABLA_CHECK(
      shards > 0 && rank >= 0 && rank < shards, "tp_slice: rank ", rank, " is not in a world of ",
      shards);
  if (split.dim < 0)
    return full;
  NABLA_CHECK_SHAPE(
      split.dim < full.dim() && full.size(split.dim) % split.parts == 0, "tp_slice: cannot split ",
      full.shape(), " along dim ", split.dim, " into ", split.parts, " equal parts");
  const int64_t block = full.size(split.dim) / split.parts;
  const int64_t begin = block * rank / shards, size = block * (rank + 1) / shards - begin;
  std::vector<Block> blocks;
  for (int64_t p = 0; p < split.parts; ++p) blocks.push_back({&full, p * block + begin, size});
  return cat_blocks(blocks, split.dim);
}

Tensor tp_merge(const std::vector<Tensor>& slices, const TpSplit& split, const std::string& what) {
  NABLA_CHECK(!slices.empty(), "tp_merge: no slices of ", what);
  const Tensor& first = slices[0];
  for (size_t r = 0; r < slices.size(); ++r) {
    const Tensor& s = slices[r];
    bool same = s.dtype() == first.dtype() && s.dim() == first.dim();
    for (int64_t d = 0; same && d < s.dim(); ++d) {
      same = d == split.dim || s.size(d) == first.size(d);
    }
    NABLA_CHECK_IO(
        same, kFmt, ": ", what, ": shard ", r, " holds ", s.dtype(), " ", s.shape(), ", shard 0 ",
        first.dtype(), " ", first.shape(),
        split.dim < 0 ? " (replicated: must be equal)"
                      : " (they may differ only along dim " + std::to_string(split.dim) + ")");
    NABLA_CHECK_IO(
        split.dim < s.dim() && (split.dim < 0 || s.size(split.dim) % split.parts == 0), kFmt, ": ",
        what, ": shard ", r, " holds ", s.shape(), ", which cannot be split along dim ", split.dim,
        " into ", split.parts, " parts");
  }
  if (split.dim < 0 || slices.size() == 1)
    return first;
  std::vector<Block> blocks;
  for (int64_t p = 0; p < split.parts; ++p) {
    for (const Tensor& s : slices) {
      const int64_t n = s.size(split.dim) / split.parts;
      blocks.push_back({&s, p * n, n});
    }
  }
  return cat_blocks(blocks, split.dim);
}

void save_tp_shard(
    const std::string& dir,
    int64_t rank,
    int64_t shards,
    const std::vector<std::pair<std::string, Tensor>>& tensors,
    const std::string& config_json) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  NABLA_CHECK_IO(!ec, kFmt, ": cannot create directory ", dir, ": ", ec.message());
  save_safetensors(
      (fs::path(dir) / tp_shard_file_name(rank, shards)).string(), tensors,
      {{"format", "pt"},
       {"tp_rank", std::to_string(rank)},
       {"tp_shards", std::to_string(shards)},
       {"config", config_json}});
}

void save_tp_index(const std::string& dir, const TpIndex& index, const std::string& config_json) {
  const fs::path base(dir);
  write_file_atomic((base / "config.json").string(), config_json, "config.json");
  write_file_atomic((base / kTpIndexName).string(), tp_index_to_json(index), kTpIndexName);
}

void remove_tp_index(const std::string& dir) {
  std::error_code ec;
  fs::remove(fs::path(dir) / kTpIndexName, ec);
  NABLA_CHECK_IO(
      !ec, kFmt, ": cannot remove ", (fs::path(dir) / kTpIndexName).string(), ": ", ec.message());
}

Weights load_tp_checkpoint(const std::string& dir) {
  const fs::path base(dir);
  const std::string index_path = (base / kTpIndexName).string();
  NABLA_CHECK_IO(
      fs::exists(index_path), kFmt, ": ", index_path,
      " not found\n---> HINT: a folder without its index is incomplete (the writer "
      "stopped early); write it again with nabla shard");
  const TpIndex index = parse_tp_index(read_text(index_path), index_path);
  const std::string config_path = (base / "config.json").string();
  NABLA_CHECK_IO(
      fs::exists(config_path), kFmt, ": ", config_path, " not found (named by ", index_path, ")");
  const std::string config = read_text(config_path);
  std::vector<Weights> shards;
  for (int64_t r = 0; r < index.shards; ++r) {
    const std::string path = (base / tp_shard_file_name(r, index.shards)).string();
    if (!fs::exists(path)) {
      detail::fail(
          kFmt, index_path, -1,
          "shard " + std::to_string(r) + " of " + std::to_string(index.shards) + " not found at " +
              path,
          "copy every model-tp-*.safetensors file named by the index");
    }
    Weights w = load_safetensors(path);
    auto meta = [&](const char* key) {
      const auto it = w.metadata.find(key);
      return it == w.metadata.end() ? std::string("(none)") : it->second;
    };
    if (meta("tp_rank") != std::to_string(r) || meta("tp_shards") != std::to_string(index.shards)) {
      detail::fail(
          kFmt, path, -1,
          "the shard says it is rank " + meta("tp_rank") + " of " + meta("tp_shards") +
              ", the index expects rank " + std::to_string(r) + " of " +
              std::to_string(index.shards),
          "the shards come from different checkpoints");
    }
    if (meta("config") != config) {
      detail::fail(
          kFmt, path, -1, "the shard was written with another config.json than " + config_path,
          "the shards come from different checkpoints");
    }
    if (w.size() != index.tensors.size()) {
      detail::fail(
          kFmt, path, -1,
          "the shard holds " + std::to_string(w.size()) + " tensors, the index lists " +
              std::to_string(index.tensors.size()),
          "the index and the shards come from different checkpoints");
    }
    shards.push_back(std::move(w));
  }
  Weights out(kFmt, dir);
  for (const auto& [name, split] : index.tensors) {
    std::vector<Tensor> slices;
    for (const Weights& s : shards) {
      if (!s.contains(name)) {
        detail::fail(
            kFmt, s.source(), -1, "tensor " + name + " (listed by the index) is missing",
            "the index and the shards come from different checkpoints");
      }
      slices.push_back(s.at(name));
    }
    out.add(name, tp_merge(slices, split, name + " (" + dir + ")"));
  }
  out.metadata["config"] = config;
  return out;
}

}  // namespace nabla::io
