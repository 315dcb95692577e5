// LoRA (Hu et al. 2021, arXiv:2106.09685) as Hugging Face PEFT computes it
// (peft/tuners/lora/layer.py): y = x W^T + b + scaling * B(A(dropout(x))), scaling = alpha / r,
// A (r, in) ~ kaiming_uniform_(a = sqrt(5)), B (out, r) = 0, so a fresh adapter changes nothing.
// Adapters attach to nn::Linear's adapter hook, so any model made of nn::Linear can take them.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nabla/core/tensor.h"
#include "nabla/nn/linear.h"
#include "nabla/nn/module.h"

namespace nabla::lora {

/// Which Linears get an adapter (PEFT's target_modules), matched against dotted module names:
///  - names: a module matches a name it equals or ends with after a '.': "c_attn" matches
///    "h.0.attn.c_attn", "attn.c_attn" too (PEFT's list semantics);
///  - regex: the whole dotted name must match (PEFT's target_modules given as one string);
///  - all_linear: every Linear except the output head, whose last name component is "lm_head"
///    or "output" (PEFT's "all-linear" excludes the model's output embedding).
struct TargetModules {
  std::vector<std::string> names;
  std::string regex;
  bool all_linear = false;

  TargetModules() = default;
  /// From a list of names.
  TargetModules(std::initializer_list<std::string> list) : names(list) {}
  explicit TargetModules(std::vector<std::string> list) : names(std::move(list)) {}
  /// Parses a command-line spec (see parse()).
  TargetModules(const char* spec);         // NOLINT(google-explicit-constructor)
  TargetModules(const std::string& spec);  // NOLINT(google-explicit-constructor)

  /// "all-linear" (any case); names separated by ',' or '|' ("wq,wv", "q_proj|v_proj", made of
  /// letters, digits, '_', '-', '.'); anything else is a regex ("layers\.[01]\..*\.wq").
  static TargetModules parse(const std::string& spec);
  /// Whether the dotted module name matches (all_linear matches every name but the head's).
  bool matches(const std::string& module_name) const;
  bool empty() const { return names.empty() && regex.empty() && !all_linear; }
  /// As written back in messages: "wq,wv", the regex, or "all-linear".
  std::string str() const;
};

struct LoraConfig {
  int64_t r = 8;         ///< rank
  double alpha = 8.0;    ///< lora_alpha; scaling = alpha / r
  double dropout = 0.0;  ///< lora_dropout, on the adapter's input only
  TargetModules target_modules{};
  std::string base_model_name_or_path{};  ///< written to adapter_config.json
  std::string task_type = "CAUSAL_LM";

  double scaling() const { return alpha / static_cast<double>(r); }
};

/// The adapter of one Linear: children lora_A = Linear(in, r, bias=false) and
/// lora_B = Linear(r, out, bias=false), named as in PEFT.
class LoraLinear : public nn::LinearAdapter {
 public:
  /// Sized for base; A drawn as nn::Linear draws a weight (kaiming_uniform_(a = sqrt(5))), B zero.
  LoraLinear(const nn::Linear& base, int64_t r, double alpha, double dropout);

  /// scaling * B(A(dropout(x))): x (..., in) -> (..., out).
  Tensor delta(const Tensor& x) override;
  bool active() const override { return enabled && !merged_; }
  std::string name() const override { return "LoraLinear"; }
  std::string extra_repr() const override;

  /// scaling * B @ A: (out, in), no graph.
  Tensor delta_weight() const;
  double scaling() const { return alpha / static_cast<double>(r); }

  /// Adds delta_weight() to base.weight. keep_original saves a copy of the weight so that
  /// unmerge restores it bitwise; without it unmerge subtracts (as PEFT does), which restores
  /// the weight only up to rounding (|error| <= ulp(|W| + |delta|) per element).
  void merge(nn::Linear& base, bool keep_original = false);
  /// Undoes merge(); throws when not merged.
  void unmerge(nn::Linear& base);
  bool merged() const { return merged_; }

  int64_t r;
  double alpha;
  double dropout;
  /// False turns the adapter off (the Linear computes its base output only).
  bool enabled = true;
  std::shared_ptr<nn::Linear> lora_A;  ///< weight (r, in)
  std::shared_ptr<nn::Linear> lora_B;  ///< weight (out, r)

 private:
  bool merged_ = false;
  Tensor original_;  ///< (out, in) base weight before merge, when kept
};

/// The Linears of model that config's targets select, by dotted name, in module order. The
/// adapters' own lora_A / lora_B never count.
std::vector<std::string> find_targets(nn::Module& model, const TargetModules& targets);

/// Every nn::Linear in model by dotted name (adapter internals excluded).
std::vector<std::string> linear_names(nn::Module& model);

/// Attaches a LoraLinear to every Linear that config.target_modules selects, then freezes every
/// other parameter (requires_grad false: no gradient, no optimizer state; biases too, PEFT's
/// bias "none"). Returns the adapted names. Throws, before changing anything, when nothing
/// matches (listing the Linears that exist), when r <= 0, alpha <= 0 or dropout is outside
/// [0, 1), when a target already has an adapter, or when its weight is not f32.
std::vector<std::string> apply_lora(nn::Module& model, const LoraConfig& config);

/// Adapters by the dotted name of their Linear, in module order.
std::vector<std::pair<std::string, std::shared_ptr<LoraLinear>>> lora_adapters(nn::Module& model);
/// The adapters' A and B (what the optimizer gets), in module order.
std::vector<Tensor> lora_parameters(nn::Module& model);

/// Parameters that require grad, all parameters, and their ratio.
struct TrainableParameters {
  int64_t trainable = 0;
  int64_t total = 0;
  double percent() const {
    return total > 0 ? 100.0 * static_cast<double>(trainable) / static_cast<double>(total) : 0.0;
  }
  /// "trainable params: 8,960 || all params: 269,312 || trainable%: 3.33" (PEFT's line).
  std::string str() const;
};
TrainableParameters trainable_parameters(const nn::Module& model);
/// Writes trainable_parameters(model).str() and a newline.
void print_trainable_parameters(const nn::Module& model, std::ostream& os);
void print_trainable_parameters(const nn::Module& model);

/// Throws when no parameter of model requires grad (training would change nothing).
void check_trainable(const nn::Module& model);
/// Names of the adapters whose B is still all zero (they change nothing: after an optimizer
/// step this means no gradient reached them).
std::vector<std::string> untrained_adapters(nn::Module& model);
/// After a training step: writes "warning: ..." naming the adapters whose B is all zero and
/// returns true when there are any.
bool warn_if_untrained(nn::Module& model, std::ostream& os);

/// Folds every adapter into its Linear's weight (see LoraLinear::merge); the outputs stay the
/// same (up to rounding) and forward no longer pays for the adapters. Already merged ones are
/// skipped.
void merge(nn::Module& model, bool keep_original = false);
/// Undoes merge() on every merged adapter.
void unmerge(nn::Module& model);
/// Turns every adapter on or off (off: the base model's outputs, as PEFT's disable_adapter).
void set_adapters_enabled(nn::Module& model, bool enabled);

}  // namespace nabla::lora
