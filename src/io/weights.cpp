// io::Weights: ordered named tensors with shape/dtype-checked access and unused-name reports.
#include "nabla/io/weights.h"

#include <sstream>

#include "io/io_util.h"

namespace nabla::io {

Weights::Weights(std::string format, std::string source)
    : format_(std::move(format)), source_(std::move(source)) {}

void Weights::add(const std::string& name, Tensor tensor, int64_t offset) {
  if (index_.count(name) != 0) {
    detail::fail(format_, source_, offset, "duplicate tensor name " + name,
                 "each tensor name may appear only once in a checkpoint");
  }
  NABLA_CHECK(tensor.defined(), format_, ": tensor ", name, " is undefined");
  index_.emplace(name, entries_.size());
  entries_.push_back({name, std::move(tensor), offset});
  used_.push_back(false);
}

bool Weights::contains(const std::string& name) const { return index_.count(name) != 0; }

const WeightEntry& Weights::find(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    detail::fail(format_, source_, -1,
                 "missing tensor " + name + " (the file has " + std::to_string(entries_.size()) +
                     " tensors)",
                 "the checkpoint is for a different model or configuration; list its tensors "
                 "with `nabla info`");
  }
  return entries_[it->second];
}

const Tensor& Weights::at(const std::string& name) const { return find(name).tensor; }

const Tensor& Weights::get(const std::string& name, const Shape& shape, DType dtype) const {
  const WeightEntry& e = find(name);
  if (e.tensor.shape() != shape) {
    detail::fail(format_, source_, e.offset,
                 name + " is " + e.tensor.shape().str() + ", model expects " + shape.str(),
                 "the checkpoint's configuration does not match the model's; check the config "
                 "(layers, heads, widths, vocabulary size)");
  }
  if (e.tensor.dtype() != dtype) {
    std::ostringstream os;
    os << name << " is " << e.tensor.dtype() << ", model expects " << dtype;
    detail::fail(format_, source_, e.offset, os.str(),
                 "convert the checkpoint or build the model with the checkpoint's dtype");
  }
  used_[index_.at(name)] = true;
  return e.tensor;
}

std::vector<std::string> Weights::unused() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (!used_[i]) out.push_back(entries_[i].name);
  }
  return out;
}

void Weights::check_all_used() const {
  const auto names = unused();
  if (names.empty()) return;
  std::string list;
  constexpr size_t kShown = 10;  // enough to see the pattern without flooding the terminal
  for (size_t i = 0; i < names.size() && i < kShown; ++i) list += (i ? ", " : "") + names[i];
  if (names.size() > kShown) list += ", ... (" + std::to_string(names.size() - kShown) + " more)";
  detail::fail(format_, source_, -1,
               std::to_string(names.size()) + " tensor(s) not used by the model: " + list,
               "the checkpoint holds weights this model does not have: a different "
               "architecture or configuration");
}

void Weights::reset_used() const { used_.assign(entries_.size(), false); }

std::vector<std::string> Weights::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back(e.name);
  return out;
}

}  // namespace nabla::io
