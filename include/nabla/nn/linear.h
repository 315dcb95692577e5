// nn::Linear: y = x W^T + b (torch.nn.Linear), with PyTorch's default initialisation, and an
// optional adapter (LoRA) whose output forward adds: y = x W^T + b + adapter.delta(x).
#pragma once

#include <memory>

#include "nabla/nn/module.h"
#include "nabla/ops/quantized.h"

namespace nabla::nn {

/// A trainable addition to a Linear's output (LoRA, lora/lora.h). Attached with
/// Linear::set_adapter, its child modules become children of the Linear, so their parameters
/// are named "<linear>.<child>.<param>" ("h.0.attn.c_attn.lora_A.weight", PEFT's names).
class LinearAdapter : public Module {
 public:
  /// x (..., in) -> (..., out), added to the Linear's output.
  virtual Tensor delta(const Tensor& x) = 0;
  /// Whether the Linear adds delta (false e.g. while the adapter is merged into the weight).
  virtual bool active() const { return true; }
};

class Linear : public Module {
 public:
  /// weight (out, in) ~ kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in));
  /// bias (out) ~ U(-1/sqrt(in), 1/sqrt(in)).
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  /// A Linear holding these tensors as its parameters, without initialisation (candle's
  /// Linear::new): weight (out, in), bias (out) or undefined for none.
  explicit Linear(const Tensor& weight, const Tensor& bias = Tensor());
  /// x (..., in) -> (..., out), plus adapter()->delta(x) when an active adapter is set.
  Tensor forward(const Tensor& x) override;
  /// Also sets the adapter's mode (its dropout follows train/eval).
  void train(bool on = true) override;
  std::string name() const override { return "Linear"; }
  std::string extra_repr() const override;
  /// Re-draws weight and bias as the constructor does.
  void reset_parameters();

  /// Attaches an adapter (once: throws when one is set or adapter is null) and registers its
  /// children as this Linear's children.
  void set_adapter(std::shared_ptr<LinearAdapter> adapter);
  /// The attached adapter, or null.
  const std::shared_ptr<LinearAdapter>& adapter() const { return adapter_; }

  /// Stores the weight packed for inference (bf16 or int8 blocks, ops/quantized.h) in place of
  /// the f32 parameter, which is dropped: "weight" leaves parameters() and the state dict, and
  /// forward uses linear(x, packed, bias). For a model that only runs (generation, or a frozen
  /// base under an adapter); bias and adapter stay f32. Throws when already packed or for F32.
  void pack_weight(WeightFormat format);
  /// The packed weight, or null while the weight is the f32 parameter.
  const std::shared_ptr<const PackedWeight>& packed_weight() const { return packed_; }

  int64_t in_features, out_features;
  Tensor weight;  ///< (out, in); undefined once packed
  Tensor bias;    ///< (out), undefined without bias

 private:
  std::shared_ptr<LinearAdapter> adapter_;
  std::shared_ptr<const PackedWeight> packed_;
};

/// Packs the weight of every Linear in module's tree (Linear::pack_weight) and returns how many
/// were packed: PyTorch's quantize_dynamic for inference. Weights shared with another module
/// (a tied head uses the embedding's) stay f32 there.
int64_t pack_linear_weights(Module& module, WeightFormat format);

}  // namespace nabla::nn
