// LoRA adapters on nn::Linear: target selection (PEFT's rules), attaching and freezing, the
// trainable-parameter report, the guards against an adapter that does not train, and merging.
#include "nabla/lora/lora.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <ostream>
#include <regex>
#include <set>
#include <sstream>

#include "nabla/autograd/grad_mode.h"
#include "nabla/nn/init.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/nn_functional.h"

namespace nabla::lora {

namespace {

std::string last_component(const std::string& name) {
  const size_t dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

bool is_output_head(const std::string& name) {
  const std::string last = last_component(name);
  return last == "lm_head" || last == "output";
}

bool ends_with_component(const std::string& name, const std::string& suffix) {
  if (name == suffix)
    return true;
  return name.size() > suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
         name[name.size() - suffix.size() - 1] == '.';
}

std::regex compile(const std::string& pattern) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    NABLA_CHECK(false, "lora: target_modules '", pattern, "' is not a valid regex: ", e.what());
  }
  return {};
}

/// Every nn::Linear of model that is not part of an adapter, by dotted name, in module order.
std::vector<std::pair<std::string, std::shared_ptr<nn::Linear>>> base_linears(nn::Module& model) {
  const auto modules = model.named_modules();
  std::set<const nn::Module*> internal;
  for (const auto& [n, m] : modules) {
    const auto* lin = dynamic_cast<const nn::Linear*>(m.get());
    if (lin == nullptr || !lin->adapter())
      continue;
    for (const auto& [cn, c] : lin->adapter()->named_modules()) internal.insert(c.get());
  }
  std::vector<std::pair<std::string, std::shared_ptr<nn::Linear>>> out;
  for (const auto& [n, m] : modules) {
    auto lin = std::dynamic_pointer_cast<nn::Linear>(m);
    if (lin && !internal.count(m.get()))
      out.emplace_back(n, std::move(lin));
  }
  return out;
}

std::string with_commas(int64_t n) {
  const std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out = n < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

/// "c_attn, c_proj, c_fc (e.g. h.0.attn.c_attn; 48 Linear layers)" or "none".
std::string describe_linears(const std::vector<std::string>& names) {
  if (names.empty())
    return "none (the model has no nn::Linear)";
  std::vector<std::string> kinds;
  for (const auto& n : names) {
    const std::string last = last_component(n);
    if (std::find(kinds.begin(), kinds.end(), last) == kinds.end())
      kinds.push_back(last);
  }
  std::string s;
  for (const auto& k : kinds) {
    if (!s.empty())
      s += ", ";
    s += k;
  }
  s += " (e.g. ";
  s += names.front();
  s += "; ";
  s += std::to_string(names.size());
  s += " Linear layers)";
  return s;
}

void check_config(const LoraConfig& c) {
  NABLA_CHECK(c.r > 0, "apply_lora: r must be > 0, got ", c.r);
  NABLA_CHECK(
      std::isfinite(c.alpha) && c.alpha > 0, "apply_lora: lora_alpha must be > 0, got ", c.alpha);
  NABLA_CHECK(
      c.dropout >= 0 && c.dropout < 1, "apply_lora: lora_dropout must be in [0, 1), got ",
      c.dropout);
}

}  // namespace

// ---- target selection ----------------------------------------------------------------------

TargetModules::TargetModules(const char* spec) : TargetModules(parse(spec)) {}
TargetModules::TargetModules(const std::string& spec) : TargetModules(parse(spec)) {}

TargetModules TargetModules::parse(const std::string& spec) {
  TargetModules t;
  std::string lower = spec;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) {
    return static_cast<char>(std::tolower(ch));
  });
  if (lower == "all-linear") {
    t.all_linear = true;
    return t;
  }
  const bool plain = std::all_of(spec.begin(), spec.end(), [](unsigned char ch) {
    return std::isalnum(ch) || ch == '_' || ch == '-' || ch == '.' || ch == ',' || ch == '|' ||
           ch == ' ';
  });
  if (!plain) {
    compile(spec);  // reject a bad regex here, where the spec is read
    t.regex = spec;
    return t;
  }
  std::string item;
  std::istringstream in(spec);
  while (std::getline(in, item, ',')) {
    std::istringstream alternatives(item);
    std::string name;
    while (std::getline(alternatives, name, '|')) {
      name.erase(std::remove(name.begin(), name.end(), ' '), name.end());
      if (!name.empty())
        t.names.push_back(name);
    }
  }
  return t;
}

bool TargetModules::matches(const std::string& module_name) const {
  if (all_linear && !is_output_head(module_name))
    return true;
  if (!regex.empty() && std::regex_match(module_name, compile(regex)))
    return true;
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) {
    return ends_with_component(module_name, n);
  });
}

std::string TargetModules::str() const {
  std::string s = all_linear ? "all-linear" : regex;
  for (const auto& n : names) {
    if (!s.empty())
      s += ",";
    s += n;
  }
  return s;
}

std::vector<std::string> linear_names(nn::Module& model) {
  std::vector<std::string> out;
  for (const auto& [n, lin] : base_linears(model)) out.push_back(n);
  return out;
}

std::vector<std::string> find_targets(nn::Module& model, const TargetModules& targets) {
  const std::regex re = targets.regex.empty() ? std::regex() : compile(targets.regex);
  std::vector<std::string> out;
  for (const auto& entry : base_linears(model)) {
    const std::string& n = entry.first;  // a named variable: lambdas may capture it
    const bool hit = (targets.all_linear && !is_output_head(n)) ||
                     (!targets.regex.empty() && std::regex_match(n, re)) ||
                     std::any_of(
                         targets.names.begin(), targets.names.end(),
                         [&](const std::string& t) { return ends_with_component(n, t); });
    if (hit) out.push_back(n);
  }
  return out;
}

// ---- the adapter -----------------------------------------------------------------------------

LoraLinear::LoraLinear(const nn::Linear& base, int64_t r_, double alpha_, double dropout_)
    : r(r_), alpha(alpha_), dropout(dropout_) {
  NABLA_CHECK(r > 0, "LoraLinear: r must be > 0, got ", r);
  // nn::Linear draws its weight with kaiming_uniform_(a = sqrt(5)), PEFT's init of lora_A.
  lora_A = register_module("lora_A", std::make_shared<nn::Linear>(base.in_features, r, false));
  lora_B = register_module("lora_B", std::make_shared<nn::Linear>(r, base.out_features, false));
  nn::init::zeros_(lora_B->weight);
}

Tensor LoraLinear::delta(const Tensor& x) {
  const Tensor h = dropout > 0 ? nabla::dropout(x, dropout, is_training()) : x;  // (..., in)
  Tensor a = linear(h, lora_A->weight);                                          // (..., r)
  // Scaling the rank-r activations costs r instead of out multiplies per row.
  if (scaling() != 1.0)
    a = a * scaling();
  return linear(a, lora_B->weight);  // (..., out)
}

std::string LoraLinear::extra_repr() const {
  return "r=" + std::to_string(r) + ", lora_alpha=" + nn::py_repr(alpha) +
         ", lora_dropout=" + nn::py_repr(dropout) + (merged_ ? ", merged=True" : "");
}

Tensor LoraLinear::delta_weight() const {
  NoGradGuard no_grad;
  return lora_B->weight.matmul(lora_A->weight) * scaling();  // (out, r) @ (r, in)
}

void LoraLinear::merge(nn::Linear& base, bool keep_original) {
  NABLA_CHECK(!merged_, "LoraLinear::merge: the adapter is already merged");
  NABLA_CHECK(base.weight.defined(), "LoraLinear::merge: the Linear's weight is packed (",
              base.packed_weight() ? weight_format_name(base.packed_weight()->format()) : "?",
              ") for inference; merge into an f32 model");
  NABLA_CHECK_SHAPE(
      base.weight.shape() == Shape({lora_B->out_features, lora_A->in_features}),
      "LoraLinear::merge: adapter is for [", lora_B->out_features, ", ", lora_A->in_features,
      "], the Linear's weight is ", base.weight.shape());
  NoGradGuard no_grad;
  if (keep_original)
    original_ = base.weight.clone();
  base.weight.add_(delta_weight());
  merged_ = true;
}

void LoraLinear::unmerge(nn::Linear& base) {
  NABLA_CHECK(merged_, "LoraLinear::unmerge: the adapter is not merged");
  NoGradGuard no_grad;
  if (original_.defined()) {
    base.weight.copy_(original_);
    original_ = Tensor();
  } else {
    base.weight.sub_(delta_weight());
  }
  merged_ = false;
}

// ---- model-level functions -------------------------------------------------------------------

std::vector<std::string> apply_lora(nn::Module& model, const LoraConfig& config) {
  check_config(config);
  const auto linears = base_linears(model);
  std::vector<std::string> names;
  for (const auto& [n, lin] : linears) names.push_back(n);
  NABLA_CHECK(
      !config.target_modules.empty(),
      "apply_lora: target_modules is empty; the model's Linear layers are ",
      describe_linears(names));
  const std::vector<std::string> targets = find_targets(model, config.target_modules);
  NABLA_CHECK(
      !targets.empty(), "apply_lora: target_modules '", config.target_modules.str(),
      "' matched no Linear layer; the model's Linear layers are ", describe_linears(names));
  std::vector<std::shared_ptr<nn::Linear>> chosen;
  for (const auto& [n, lin] : linears) {
    if (std::find(targets.begin(), targets.end(), n) == targets.end())
      continue;
    NABLA_CHECK(!lin->adapter(), "apply_lora: ", n, " already has an adapter");
    // A packed (bf16/int8) frozen base works too: its linear passes gradients to the input.
    NABLA_CHECK_DTYPE(
        lin->packed_weight() || lin->weight.dtype() == kFloat32, "apply_lora: ", n,
        ".weight is ", lin->weight.dtype(), "; LoRA adapters need an f32 or packed base weight");
    chosen.push_back(lin);
  }
  model.requires_grad_(false);
  for (const auto& lin : chosen) {
    lin->set_adapter(std::make_shared<LoraLinear>(*lin, config.r, config.alpha, config.dropout));
  }
  check_trainable(model);
  return targets;
}

std::vector<std::pair<std::string, std::shared_ptr<LoraLinear>>> lora_adapters(nn::Module& model) {
  std::vector<std::pair<std::string, std::shared_ptr<LoraLinear>>> out;
  for (const auto& [n, lin] : base_linears(model)) {
    if (auto a = std::dynamic_pointer_cast<LoraLinear>(lin->adapter()))
      out.emplace_back(n, a);
  }
  return out;
}

std::vector<Tensor> lora_parameters(nn::Module& model) {
  std::vector<Tensor> out;
  for (const auto& [n, a] : lora_adapters(model)) {
    out.push_back(a->lora_A->weight);
    out.push_back(a->lora_B->weight);
  }
  return out;
}

std::string TrainableParameters::str() const {
  char pct[32];
  std::snprintf(pct, sizeof(pct), "%.2f", percent());
  return "trainable params: " + with_commas(trainable) + " || all params: " + with_commas(total) +
         " || trainable%: " + pct;
}

TrainableParameters trainable_parameters(const nn::Module& model) {
  return {.trainable = model.num_parameters(true), .total = model.num_parameters(false)};
}

void print_trainable_parameters(const nn::Module& model, std::ostream& os) {
  os << trainable_parameters(model).str() << "\n";
}

void print_trainable_parameters(const nn::Module& model) {
  print_trainable_parameters(model, std::cout);
}

void check_trainable(const nn::Module& model) {
  NABLA_CHECK(
      model.num_parameters(true) > 0, "lora: no parameter of ", model.name(), " requires grad (",
      model.num_parameters(false),
      " parameters, all frozen), so training would change nothing; apply_lora() attaches "
      "trainable adapters");
}

std::vector<std::string> untrained_adapters(nn::Module& model) {
  NoGradGuard no_grad;
  std::vector<std::string> out;
  for (const auto& [n, a] : lora_adapters(model)) {
    if (a->lora_B->weight.abs().max().item() == 0.0)
      out.push_back(n);
  }
  return out;
}

bool warn_if_untrained(nn::Module& model, std::ostream& os) {
  const auto zero = untrained_adapters(model);
  if (zero.empty())
    return false;
  os << "warning: lora: lora_B is still all zero in " << zero.size() << " of "
     << lora_adapters(model).size() << " adapters (" << zero.front()
     << (zero.size() > 1 ? ", ..." : "")
     << "): they change nothing; check that their parameters reach the optimizer and get "
        "gradients\n";
  return true;
}

void merge(nn::Module& model, bool keep_original) {
  for (const auto& [n, lin] : base_linears(model)) {
    auto a = std::dynamic_pointer_cast<LoraLinear>(lin->adapter());
    if (a && !a->merged())
      a->merge(*lin, keep_original);
  }
}

void unmerge(nn::Module& model) {
  for (const auto& [n, lin] : base_linears(model)) {
    auto a = std::dynamic_pointer_cast<LoraLinear>(lin->adapter());
    if (a && a->merged())
      a->unmerge(*lin);
  }
}

void set_adapters_enabled(nn::Module& model, bool enabled) {
  for (const auto& [n, a] : lora_adapters(model)) a->enabled = enabled;
}

}  // namespace nabla::lora
