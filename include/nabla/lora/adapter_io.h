// LoRA adapters on disk in Hugging Face PEFT's format, so they move between nabla and PEFT:
//   <dir>/adapter_config.json        {"peft_type": "LORA", "r": 8, "lora_alpha": 16, ...}
//   <dir>/adapter_model.safetensors  base_model.model.<module>.lora_A.weight (r, in) and
//                                    base_model.model.<module>.lora_B.weight (out, r)
// <module> is the model's own dotted module name ("layers.0.attention.wq", "h.0.attn.c_attn").
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "nabla/core/tensor.h"
#include "nabla/lora/lora.h"
#include "nabla/nn/module.h"

namespace nabla::lora {

inline constexpr const char* kAdapterConfigName = "adapter_config.json";
inline constexpr const char* kAdapterWeightsName = "adapter_model.safetensors";

/// The adapters' weights under PEFT's names, in module order (A then B), sharing storage.
std::vector<std::pair<std::string, Tensor>> adapter_state_dict(nn::Module& model);

/// Writes dir/adapter_config.json and dir/adapter_model.safetensors atomically, creating dir.
/// Throws when the model has no adapters (an empty adapter) or when config's r / lora_alpha
/// differ from the adapters'. "all-linear" is written as the adapted names' last components,
/// as PEFT does.
void save_adapter(nn::Module& model, const std::string& dir, const LoraConfig& config);

/// Reads dir/adapter_config.json. Throws IoError naming the file when a required field
/// (peft_type, r, lora_alpha, target_modules) is missing or has the wrong type, and when it
/// asks for what nabla does not do (peft_type other than LORA, use_dora, use_rslora,
/// rank_pattern / alpha_pattern, bias other than "none", modules_to_save, layers_to_transform).
/// fan_in_fan_out is accepted either way: it only says how the base weight is stored, and A, B
/// have the same layout in both cases.
LoraConfig load_adapter_config(const std::string& dir);

/// Loads the adapter in dir into model: when model has no adapters yet, attaches them as
/// apply_lora(model, config) does (freezing the base); otherwise its adapters must be the
/// ones in the file, with the same r and lora_alpha. Every check runs before anything changes:
/// each tensor must belong to a Linear of the model that target_modules selects, each selected
/// Linear must have both tensors, and shapes must be [r, in] and [out, r] with the file's r; the
/// error lists every mismatch. is_trainable false (PEFT's default) freezes the adapters too.
/// Returns the config read.
LoraConfig load_adapter(nn::Module& model, const std::string& dir, bool is_trainable = false);

}  // namespace nabla::lora
