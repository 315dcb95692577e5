// PEFT's adapter format: adapter_config.json (peft/config.py, LoraConfig's fields, written with
// sorted keys as PEFT does) and adapter_model.safetensors (peft/utils/save_and_load.py names:
// the adapter name "default" dropped, "base_model.model." in front).
#include "nabla/lora/adapter_io.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "io/io_util.h"
#include "io/json_internal.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/io/atomic_file.h"
#include "nabla/io/safetensors.h"

namespace nabla::lora {

namespace {

using nlohmann::json;

constexpr const char* kPrefix = "base_model.model.";
constexpr const char* kSuffixA = ".lora_A.weight";
constexpr const char* kSuffixB = ".lora_B.weight";
constexpr size_t kMaxConfigBytes = size_t{1} << 20;
constexpr size_t kMaxListedErrors = 12;

std::string join_path(const std::string& dir, const char* file) {
  return (std::filesystem::path(dir) / file).string();
}

[[noreturn]] void config_error(
    const std::string& path, const std::string& what, const std::string& hint = "") {
  io::detail::fail("adapter_config.json", path, -1, what, hint);
}

json target_modules_json(nn::Module& model, const TargetModules& t) {
  if (t.all_linear) {
    // PEFT replaces "all-linear" by the set of the adapted Linears' last name components.
    std::set<std::string> last;
    for (const auto& [n, a] : lora_adapters(model)) last.insert(n.substr(n.rfind('.') + 1));
    return std::vector<std::string>(last.begin(), last.end());
  }
  NABLA_CHECK(
      t.regex.empty() || t.names.empty(), "save_adapter: target_modules holds both names (",
      t.str(), ") and a regex; PEFT's target_modules is either a list or one regex");
  if (!t.regex.empty())
    return t.regex;
  return t.names;
}

json number(double v) {
  if (std::floor(v) == v && std::abs(v) < 1e15)
    return static_cast<int64_t>(v);
  return v;
}

json config_json(nn::Module& model, const LoraConfig& c) {
  json j = json::object();
  j["alpha_pattern"] = json::object();
  j["auto_mapping"] = nullptr;
  j["base_model_name_or_path"] =
      c.base_model_name_or_path.empty() ? json(nullptr) : json(c.base_model_name_or_path);
  j["bias"] = "none";
  j["fan_in_fan_out"] = false;
  j["inference_mode"] = true;
  j["init_lora_weights"] = true;
  j["layers_pattern"] = nullptr;
  j["layers_to_transform"] = nullptr;
  j["lora_alpha"] = number(c.alpha);
  j["lora_dropout"] = c.dropout;
  j["modules_to_save"] = nullptr;
  j["peft_type"] = "LORA";
  j["r"] = c.r;
  j["rank_pattern"] = json::object();
  j["revision"] = nullptr;
  j["target_modules"] = target_modules_json(model, c.target_modules);
  j["task_type"] = c.task_type.empty() ? json(nullptr) : json(c.task_type);
  j["use_dora"] = false;
  j["use_rslora"] = false;
  return j;
}

/// A field that must be absent, null, false or empty for nabla to load the adapter as PEFT
/// would use it.
void check_unsupported(
    const json& j, const std::string& path, const char* key, const std::string& why) {
  if (!j.contains(key))
    return;
  const json& v = j[key];
  const bool off = v.is_null() || (v.is_boolean() && !v.get<bool>()) ||
                   ((v.is_object() || v.is_array()) && v.empty());
  if (!off)
    config_error(path, std::string(key) + " = " + v.dump() + " is not supported", why);
}

TargetModules parse_target_modules(const json& v, const std::string& path) {
  TargetModules t;
  if (v.is_string()) {
    // One string is a regex over the whole module name in PEFT, "all-linear" aside.
    std::string s = v.get<std::string>();
    std::string lower = s;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) {
      return static_cast<char>(std::tolower(ch));
    });
    if (lower == "all-linear") {
      t.all_linear = true;
    } else {
      t.regex = s;
    }
  } else if (v.is_array()) {
    for (const auto& e : v) {
      if (!e.is_string())
        config_error(path, "target_modules must hold strings, got " + e.dump());
      t.names.push_back(e.get<std::string>());
    }
  } else {
    config_error(path, "target_modules must be a list of names or a regex string, got " + v.dump());
  }
  if (t.empty())
    config_error(path, "target_modules is empty");
  return t;
}

const json& required(const json& j, const std::string& path, const char* key) {
  if (!j.contains(key) || j[key].is_null()) {
    config_error(
        path, std::string("missing field \"") + key + "\"",
        "an adapter_config.json of PEFT's LoRA has peft_type, r, lora_alpha and "
        "target_modules");
  }
  return j[key];
}

/// The module name of a PEFT tensor name and whether it is lora_A (else lora_B); empty when
/// the name is not one of the two.
std::pair<std::string, bool> split_name(const std::string& name) {
  const std::string prefix = kPrefix;
  if (name.rfind(prefix, 0) != 0)
    return {"", false};
  for (const char* suffix : {kSuffixA, kSuffixB}) {
    const std::string s = suffix;
    if (name.size() > prefix.size() + s.size() &&
        name.compare(name.size() - s.size(), s.size(), s) == 0) {
      return {
          name.substr(prefix.size(), name.size() - prefix.size() - s.size()), suffix == kSuffixA};
    }
  }
  return {"", false};
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> adapter_state_dict(nn::Module& model) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [n, a] : lora_adapters(model)) {
    out.emplace_back(kPrefix + n + kSuffixA, a->lora_A->weight.detach());
    out.emplace_back(kPrefix + n + kSuffixB, a->lora_B->weight.detach());
  }
  return out;
}

void save_adapter(nn::Module& model, const std::string& dir, const LoraConfig& config) {
  const auto adapters = lora_adapters(model);
  NABLA_CHECK(
      !adapters.empty(), "save_adapter: ", model.name(),
      " has no LoRA adapters, refusing to write an empty adapter to ", dir,
      " (apply_lora() or load_adapter() attaches them)");
  for (const auto& [n, a] : adapters) {
    NABLA_CHECK(
        a->r == config.r && a->alpha == config.alpha, "save_adapter: ", n, " has r = ", a->r,
        ", lora_alpha = ", a->alpha, " but the config says r = ", config.r,
        ", lora_alpha = ", config.alpha);
  }
  const std::string text = config_json(model, config).dump(2) + "\n";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  NABLA_CHECK_IO(!ec, "save_adapter: cannot create directory ", dir, ": ", ec.message());
  io::save_safetensors(
      join_path(dir, kAdapterWeightsName), adapter_state_dict(model), {{"format", "pt"}});
  io::write_file_atomic(join_path(dir, kAdapterConfigName), text, "adapter_config.json");
}

LoraConfig load_adapter_config(const std::string& dir) {
  const std::string path = join_path(dir, kAdapterConfigName);
  NABLA_CHECK_IO(
      std::filesystem::exists(path), "load_adapter: no ", kAdapterConfigName, " in ", dir,
      "\n---> HINT: a PEFT adapter folder holds ", kAdapterConfigName, " and ",
      kAdapterWeightsName);
  const json j = io::detail::parse_json(
      io::detail::read_text_file(path, "adapter_config.json", kMaxConfigBytes),
      "adapter_config.json", path, 0, 16, "");
  if (!j.is_object())
    config_error(path, "expected a JSON object, got " + j.dump());
  const json& type = required(j, path, "peft_type");
  if (!type.is_string() || type.get<std::string>() != "LORA") {
    config_error(
        path, "peft_type is " + type.dump() + ", not \"LORA\"", "nabla loads LoRA adapters only");
  }
  LoraConfig c;
  const json& r = required(j, path, "r");
  if (!r.is_number_integer() || r.get<int64_t>() <= 0) {
    config_error(path, "r must be a positive integer, got " + r.dump());
  }
  c.r = r.get<int64_t>();
  const json& alpha = required(j, path, "lora_alpha");
  if (!alpha.is_number() || !(alpha.get<double>() > 0)) {
    config_error(path, "lora_alpha must be a positive number, got " + alpha.dump());
  }
  c.alpha = alpha.get<double>();
  c.target_modules = parse_target_modules(required(j, path, "target_modules"), path);
  if (j.contains("lora_dropout") && !j["lora_dropout"].is_null()) {
    if (!j["lora_dropout"].is_number())
      config_error(path, "lora_dropout must be a number");
    c.dropout = j["lora_dropout"].get<double>();
  }
  for (const char* key : {"base_model_name_or_path", "task_type"}) {
    if (j.contains(key) && j[key].is_string()) {
      (key[0] == 'b' ? c.base_model_name_or_path : c.task_type) = j[key].get<std::string>();
    }
  }
  if (j.contains("bias") && j["bias"] != "none") {
    config_error(
        path, "bias = " + j["bias"].dump() + " is not supported",
        "nabla's adapters train no biases (PEFT's bias \"none\")");
  }
  check_unsupported(j, path, "use_dora", "DoRA is not implemented");
  check_unsupported(j, path, "use_rslora", "rank-stabilised scaling is not implemented");
  check_unsupported(j, path, "rank_pattern", "every adapter must have rank r");
  check_unsupported(j, path, "alpha_pattern", "every adapter must have lora_alpha");
  check_unsupported(j, path, "modules_to_save", "only LoRA weights are loaded");
  check_unsupported(j, path, "layers_to_transform", "use a target_modules regex instead");
  return c;
}

namespace {

struct FileAdapter {
  const Tensor* a = nullptr;  // (r, in)
  const Tensor* b = nullptr;  // (out, r)
};

/// Every way the file fails to fit the model, one line each; empty when it fits.
std::vector<std::string> mismatches(
    nn::Module& model,
    const LoraConfig& c,
    const std::map<std::string, FileAdapter>& file,
    const std::vector<std::string>& modules,
    bool attached) {
  std::map<std::string, const nn::Linear*> linears;
  for (const auto& [n, m] : model.named_modules()) {
    if (const auto* lin = dynamic_cast<const nn::Linear*>(m.get()))
      linears.emplace(n, lin);
  }
  std::vector<std::string> errors;
  const std::set<std::string> wanted(modules.begin(), modules.end());
  for (const auto& [n, fa] : file) {
    if (!linears.count(n)) {
      errors.push_back("the file has weights for " + n + ", which is not a Linear of the model");
    } else if (!wanted.count(n)) {
      errors.push_back(
          "the file has weights for " + n +
          (attached ? std::string(", which has no adapter in the model")
                    : ", which target_modules '" + c.target_modules.str() + "' does not select"));
    }
  }
  for (const auto& n : modules) {
    auto it = file.find(n);
    const FileAdapter fa = it == file.end() ? FileAdapter{} : it->second;
    if (fa.a == nullptr || fa.b == nullptr) {
      errors.push_back(
          "the file has no " + std::string(fa.a ? "lora_B" : "lora_A") + " weight for " + n + " (" +
          kPrefix + n + (fa.a ? kSuffixB : kSuffixA) + ")");
      continue;
    }
    const nn::Linear& lin = *linears.at(n);
    const Shape want_a{c.r, lin.in_features}, want_b{lin.out_features, c.r};
    // The rank is dim 0 of lora_A and dim 1 of lora_B.
    for (const auto& [t, want, suffix, rank_dim] :
         {std::tuple{fa.a, want_a, kSuffixA, 0}, std::tuple{fa.b, want_b, kSuffixB, 1}}) {
      const std::string key = kPrefix + n + suffix;
      if (!t->is_floating_point()) {
        errors.push_back(
            key + " has dtype " + std::string(dtype_name(t->dtype())) + ", not a floating type");
        continue;
      }
      if (t->shape() == want)
        continue;
      const int64_t rank = t->dim() == 2 ? t->size(rank_dim) : -1;
      std::string line = key + " is " + t->shape().str() + ", the model needs " + want.str() +
                         " for " + n + " (in " + std::to_string(lin.in_features) + ", out " +
                         std::to_string(lin.out_features) + ")";
      if (rank >= 0 && rank != c.r) {
        line += "; rank " + std::to_string(rank) + " in the file, but adapter_config.json says r = " +
                std::to_string(c.r);
      }
      errors.push_back(line);
    }
  }
  return errors;
}

}  // namespace

LoraConfig load_adapter(nn::Module& model, const std::string& dir, bool is_trainable) {
  const LoraConfig c = load_adapter_config(dir);
  const std::string wpath = join_path(dir, kAdapterWeightsName);
  const io::Weights weights = io::load_safetensors(wpath);
  std::map<std::string, FileAdapter> file;
  std::vector<std::string> errors;
  for (const auto& e : weights.entries()) {
    const auto [module, is_a] = split_name(e.name);
    if (module.empty()) {
      errors.push_back(
          "the file has " + e.name + ", which is not a LoRA weight (" + kPrefix + "<module>" +
          kSuffixA + " or " + kSuffixB + ")");
      continue;
    }
    (is_a ? file[module].a : file[module].b) = &e.tensor;
  }
  const auto existing = lora_adapters(model);
  std::vector<std::string> modules;
  for (const auto& [n, a] : existing) {
    modules.push_back(n);
    if (a->r != c.r || a->alpha != c.alpha) {
      errors.push_back(
          "the model's adapter on " + n + " has r = " + std::to_string(a->r) +
          ", lora_alpha = " + nn::py_repr(a->alpha) + "; the file's r = " + std::to_string(c.r) +
          ", lora_alpha = " + nn::py_repr(c.alpha));
    }
  }
  if (existing.empty())
    modules = find_targets(model, c.target_modules);
  if (modules.empty()) {
    errors.push_back(
        "target_modules '" + c.target_modules.str() +
        "' selects no Linear of the model (its Linears: " +
        (linear_names(model).empty() ? std::string("none")
                                     : linear_names(model).front() + ", ...") +
        ")");
  }
  for (auto& line : mismatches(model, c, file, modules, !existing.empty()))
    errors.push_back(std::move(line));
  if (!errors.empty()) {
    std::string msg;
    for (size_t i = 0; i < errors.size() && i < kMaxListedErrors; ++i) msg += "\n\t" + errors[i];
    if (errors.size() > kMaxListedErrors) {
      msg += "\n\t... and " + std::to_string(errors.size() - kMaxListedErrors) + " more";
    }
    NABLA_CHECK_IO(
        false, "load_adapter: the adapter in ", dir, " does not fit ", model.name(), " (",
        kAdapterWeightsName, " against ", kAdapterConfigName, ": r = ", c.r,
        ", target_modules '", c.target_modules.str(), "'):", msg,
        "\n---> HINT: adapter_config.json says it was trained on '",
        c.base_model_name_or_path.empty() ? "(unknown)" : c.base_model_name_or_path,
        "'; an adapter only loads onto the base model it was trained on\n");
  }
  if (existing.empty())
    apply_lora(model, c);
  NoGradGuard no_grad;
  for (const auto& [n, a] : lora_adapters(model)) {
    a->lora_A->weight.copy_(*file.at(n).a);
    a->lora_B->weight.copy_(*file.at(n).b);
    a->lora_A->weight.requires_grad_(is_trainable);
    a->lora_B->weight.requires_grad_(is_trainable);
  }
  return c;
}

}  // namespace nabla::lora
