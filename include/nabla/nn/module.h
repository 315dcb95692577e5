// nn::Module: named parameters, buffers and child modules (torch.nn.Module's contract, with
// the names of PyTorch's C++ frontend). Layers derive from it and are held by shared_ptr:
// auto fc = std::make_shared<nn::Linear>(10, 5);
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "nabla/core/tensor.h"

namespace nabla::nn {

/// Parameters and buffers by dotted name ("0.weight", "ln_f.bias"): each module's own
/// parameters, then its own buffers, then its children's, in registration order (PyTorch's).
using StateDict = std::vector<std::pair<std::string, Tensor>>;

class Module : public std::enable_shared_from_this<Module> {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// Registers t (detached from any graph) as parameter `name` and returns it; an undefined
  /// t (e.g. no bias) registers nothing.
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  /// Removes parameter `name` of this module (not of its children) and returns it; throws
  /// nabla::Error when there is none (torch: `del module.name`).
  Tensor unregister_parameter(const std::string& name);
  /// Registers a tensor that is saved in the state dict but is not a parameter.
  Tensor register_buffer(const std::string& name, Tensor t);
  /// Registers a child module under `name` and returns it.
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  /// Puts module in place of the child registered as `name` (keeping its position in the
  /// order) and returns it (torch::nn::Module::replace_module); throws when there is none.
  template <typename M>
  std::shared_ptr<M> replace_module(const std::string& name, std::shared_ptr<M> module) {
    replace_child(name, module);
    return module;
  }

  /// Parameters with dotted names, each tensor once (tied weights appear under their first name).
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  std::vector<std::shared_ptr<Module>> children() const;
  /// This module (name "") and all descendants with dotted names, depth first.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules();

  /// Sets training mode here and in all descendants (affects Dropout).
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  /// Clears (set_to_none) or zeroes every parameter's gradient.
  void zero_grad(bool set_to_none = true);
  /// Turns gradients on or off for every parameter (false freezes the module).
  Module& requires_grad_(bool requires_grad = true);
  /// Total elements of all parameters (only those requiring grad when trainable_only).
  int64_t num_parameters(bool trainable_only = false) const;

  /// Parameters and buffers (detached, sharing storage) by dotted name.
  StateDict state_dict() const;
  /// Copies values into this module's tensors in place. Shape mismatches are always errors;
  /// with strict, so are missing and unexpected keys. Nothing is copied when it throws.
  void load_state_dict(const StateDict& state, bool strict = true);

  /// The layer's computation; the default throws "forward(Tensor) is not implemented for X".
  virtual Tensor forward(const Tensor& input);
  Tensor operator()(const Tensor& input) { return forward(input); }
  /// The type's name as torch prints it: "Linear", "Sequential" (the class name by default).
  virtual std::string name() const;
  /// The settings printed inside the parentheses: "in_features=10, out_features=5, bias=True".
  virtual std::string extra_repr() const { return {}; }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void replace_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const char* what, const std::string& name) const;
  void collect_state(const std::string& prefix, StateDict& out) const;

  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

/// Prints the module tree as torch's repr does:
/// Sequential(
///   (0): Linear(in_features=10, out_features=5, bias=True)
///   (1): ReLU()
/// )
std::ostream& operator<<(std::ostream& os, const Module& module);

/// A double as Python's repr writes it in module reprs: 0.5, 1e-05, 1.0.
std::string py_repr(double v);
/// "True" / "False".
inline const char* py_repr(bool v) { return v ? "True" : "False"; }

}  // namespace nabla::nn
