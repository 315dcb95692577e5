// io::Weights: the tensors of a checkpoint, in file order, by name, with the file's string
// metadata. Loaders fill it; models take tensors out with get(), which checks shape and dtype
// and remembers what was taken so that check_all_used() can report names nobody asked for.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nabla/core/tensor.h"

namespace nabla::io {

/// One named tensor and where it came from (byte offset in the file, -1 when unknown).
struct WeightEntry {
  std::string name;
  Tensor tensor;
  int64_t offset = -1;
};

/// An ordered name -> Tensor map with file metadata.
class Weights {
 public:
  /// format names the file format in messages ("safetensors", "llama2.c"); source is the
  /// path (or "<memory>").
  explicit Weights(std::string format = "weights", std::string source = "<memory>");

  /// Appends a tensor; throws IoError when name is already present.
  void add(const std::string& name, Tensor tensor, int64_t offset = -1);
  bool contains(const std::string& name) const;
  /// The tensor called name (no checks, not marked used); throws IoError when absent.
  const Tensor& at(const std::string& name) const;
  /// The tensor called name, checked to have exactly this shape and dtype, and marked used:
  /// "safetensors: h.0.attn.c_attn.weight is [768, 2304], model expects [2304, 768]
  /// (gpt2.safetensors, offset 1024)".
  const Tensor& get(const std::string& name, const Shape& shape, DType dtype = kFloat32) const;
  /// Names never fetched with get(), in file order.
  std::vector<std::string> unused() const;
  /// Throws IoError listing the unused names (a model that ignores weights is a mismatch).
  void check_all_used() const;
  /// Forgets which tensors get() returned.
  void reset_used() const;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<WeightEntry>& entries() const { return entries_; }
  std::vector<std::string> names() const;
  const std::string& format() const { return format_; }
  const std::string& source() const { return source_; }

  /// Free-form string metadata (safetensors "__metadata__").
  std::map<std::string, std::string> metadata;

 private:
  const WeightEntry& find(const std::string& name) const;
  std::string format_;
  std::string source_;
  std::vector<WeightEntry> entries_;
  std::map<std::string, size_t> index_;
  // Bookkeeping for get()/unused(): which entries a model has taken. Mutable because loading a
  // model reads the weights (const) and only records what it read.
  mutable std::vector<bool> used_;
};

}  // namespace nabla::io
