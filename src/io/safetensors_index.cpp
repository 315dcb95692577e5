// Sharded safetensors: model.safetensors.index.json maps each tensor to its shard file. The
// shards are loaded in the order the index first names them and merged into one Weights.
#include "nabla/io/safetensors_index.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <vector>

#include "io/io_util.h"
#include "nabla/io/json_config.h"
#include "nabla/io/safetensors.h"

namespace nabla::io {

namespace fs = std::filesystem;

Weights load_safetensors_index(const std::string& index_path) {
  const std::string fmt = "safetensors";
  const JsonConfig index = JsonConfig::load(index_path);
  NABLA_CHECK_IO(
      index.contains("weight_map"), fmt, ": ", index_path,
      " has no \"weight_map\" object (not a safetensors index)");
  const JsonConfig map = index.get_object("weight_map");
  std::map<std::string, std::string> shard_of;  // tensor name -> shard file name
  std::vector<std::string> shards;              // in first-mention order
  for (const auto& name : map.keys()) {
    const std::string file = map.get_string(name);
    shard_of[name] = file;
    if (std::find(shards.begin(), shards.end(), file) == shards.end())
      shards.push_back(file);
  }
  const fs::path dir = fs::path(index_path).parent_path();
  Weights out(fmt, index_path);
  std::set<std::string> found;
  for (const auto& file : shards) {
    const std::string path = (dir / file).string();
    if (fs::path(file).filename().string() != file || !fs::exists(path)) {
      detail::fail(
          fmt, index_path, -1, "shard " + file + " (named by the index) not found at " + path,
          "download every shard listed in the index's weight_map next to it");
    }
    Weights shard = load_safetensors(path);
    for (const auto& e : shard.entries()) {
      auto it = shard_of.find(e.name);
      if (it == shard_of.end() || it->second != file) {
        detail::fail(
            fmt, path, e.offset,
            "tensor " + e.name + " is in " + file + " but the index " +
                (it == shard_of.end() ? "does not list it" : "places it in " + it->second),
            "the index and the shards come from different checkpoints");
      }
      out.add(e.name, e.tensor, e.offset);
      found.insert(e.name);
    }
    for (const auto& [k, v] : shard.metadata) out.metadata.emplace(k, v);
  }
  for (const auto& [name, file] : shard_of) {
    if (found.count(name) == 0) {
      detail::fail(
          fmt, (dir / file).string(), -1,
          "tensor " + name + " listed in the index is missing from shard " + file,
          "the shard is incomplete or from another checkpoint; download it again");
    }
  }
  return out;
}

Weights load_safetensors_any(const std::string& path) {
  if (fs::is_directory(path)) {
    const fs::path index = fs::path(path) / "model.safetensors.index.json";
    if (fs::exists(index))
      return load_safetensors_index(index.string());
    const fs::path single = fs::path(path) / "model.safetensors";
    NABLA_CHECK_IO(
        fs::exists(single), "safetensors: ", path,
        " holds neither model.safetensors nor model.safetensors.index.json");
    return load_safetensors(single.string());
  }
  const std::string suffix = ".index.json";
  if (path.size() >= suffix.size() &&
      path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return load_safetensors_index(path);
  }
  return load_safetensors(path);
}

}  // namespace nabla::io
