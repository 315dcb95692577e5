// nn::Linear: parameters, PyTorch's default init (torch/nn/modules/linear.py), forward, and the
// adapter hook.
#include "nabla/nn/linear.h"

#include <cmath>

#include "nabla/core/storage.h"

#include "nabla/nn/init.h"
#include "nabla/ops/creation.h"
#include "nabla/ops/matmul.h"

namespace nabla::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias) : in_features(in), out_features(out) {
  NABLA_CHECK_SHAPE(in >= 0 && out >= 0, "Linear: in_features and out_features must be >= 0, got ",
                    in, " and ", out);
  weight = register_parameter("weight", empty({out, in}));
  if (with_bias) bias = register_parameter("bias", empty({out}));
  reset_parameters();
}

Linear::Linear(const Tensor& w, const Tensor& b) {
  NABLA_CHECK_SHAPE(w.defined() && w.dim() == 2, "Linear: weight must be (out, in), got ",
                    w.defined() ? w.describe() : std::string("undefined"));
  NABLA_CHECK_SHAPE(!b.defined() || b.shape() == Shape{w.size(0)}, "Linear: bias ",
                    b.defined() ? b.describe() : std::string(), " does not match weight ",
                    w.shape());
  out_features = w.size(0);
  in_features = w.size(1);
  weight = register_parameter("weight", w);
  bias = register_parameter("bias", b);
}

void Linear::reset_parameters() {
  // a = sqrt(5) makes the weight bound gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in)
  if (in_features > 0) {
    init::kaiming_uniform_(weight, std::sqrt(5.0));
  } else {
    init::zeros_(weight);
  }
  if (bias.defined()) {
    const double bound = in_features > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) {
  Tensor y = packed_ ? linear(x, *packed_, bias) : linear(x, weight, bias);
  if (adapter_ && adapter_->active()) y = y + adapter_->delta(x);
  return y;
}

void Linear::train(bool on) {
  Module::train(on);
  if (adapter_) adapter_->train(on);
}

void Linear::set_adapter(std::shared_ptr<LinearAdapter> adapter) {
  NABLA_CHECK(adapter != nullptr, "Linear::set_adapter: adapter is null");
  NABLA_CHECK(adapter_ == nullptr, "Linear::set_adapter: this Linear(in_features=", in_features,
              ", out_features=", out_features, ") already has an adapter (", adapter_->name(),
              ")");
  // Names are checked before any is registered, so a clash leaves this Linear unchanged.
  for (const auto& [n, child] : adapter->named_children()) {
    NABLA_CHECK(n != "weight" && n != "bias" && named_children().empty(),
                "Linear::set_adapter: the adapter's module '", n,
                "' clashes with this Linear's attributes");
  }
  for (auto& [n, child] : adapter->named_children()) register_module(n, child);
  adapter->train(is_training());
  adapter_ = std::move(adapter);
}

void Linear::pack_weight(WeightFormat format) {
  NABLA_CHECK(packed_ == nullptr, "Linear::pack_weight: the weight is already packed (",
              weight_format_name(packed_ ? packed_->format() : format), ")");
  NABLA_CHECK(format != WeightFormat::F32, "Linear::pack_weight: f32 is the unpacked format");
  packed_ = std::make_shared<const PackedWeight>(PackedWeight::pack(weight, format));
  unregister_parameter("weight");
  weight = Tensor();
  release_cached_memory();  // the f32 weight just freed: back to the system, not kept
}

int64_t pack_linear_weights(Module& module, WeightFormat format) {
  int64_t n = 0;
  for (auto& [name, m] : module.named_modules()) {
    if (auto* lin = dynamic_cast<Linear*>(m.get()); lin != nullptr && lin->weight.defined()) {
      lin->pack_weight(format);
      ++n;
    }
  }
  return n;
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" +
         std::to_string(out_features) + ", bias=" + py_repr(bias.defined()) +
         (packed_ ? ", weight=" + std::string(weight_format_name(packed_->format())) : "");
}

}  // namespace nabla::nn
