// Parameter initialisation, as torch.nn.init: in-place fills that run without recording a
// graph and draw from the default generator (nabla::manual_seed makes them repeatable).
#pragma once

#include <string>
#include <utility>

#include "nabla/core/tensor.h"

namespace nabla::nn::init {

/// (fan_in, fan_out) of a weight (out, in, *kernel): in * receptive, out * receptive.
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor);
/// The recommended gain for a nonlinearity: "linear", "conv1d", "sigmoid", "tanh", "relu",
/// "leaky_relu" (param = negative slope, 0.01 by default), "selu".
double calculate_gain(const std::string& nonlinearity, double param = 0.01);

Tensor uniform_(Tensor tensor, double a = 0.0, double b = 1.0);
Tensor normal_(Tensor tensor, double mean = 0.0, double std = 1.0);
Tensor constant_(Tensor tensor, double value);
Tensor zeros_(Tensor tensor);
Tensor ones_(Tensor tensor);
/// Normal(mean, std) truncated to [a, b] (inverse-CDF sampling, as PyTorch does).
Tensor trunc_normal_(Tensor tensor, double mean = 0.0, double std = 1.0, double a = -2.0,
                     double b = 2.0);
/// U(-bound, bound), bound = gain * sqrt(3 / fan); mode "fan_in" or "fan_out".
Tensor kaiming_uniform_(Tensor tensor, double a = 0.0, const std::string& mode = "fan_in",
                        const std::string& nonlinearity = "leaky_relu");
/// N(0, std^2), std = gain / sqrt(fan).
Tensor kaiming_normal_(Tensor tensor, double a = 0.0, const std::string& mode = "fan_in",
                       const std::string& nonlinearity = "leaky_relu");
/// U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform_(Tensor tensor, double gain = 1.0);
/// N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(Tensor tensor, double gain = 1.0);

/// While one is alive, the functions above leave tensors as they are on this thread and draw
/// nothing (transformers' no_init_weights, torch's skip_init): for loaders that build a model
/// and then set every parameter from a checkpoint. The parameters stay uninitialised, and
/// their memory is not touched until the loader writes it or replaces it (load_).
class SkipInitGuard {
 public:
  SkipInitGuard();
  ~SkipInitGuard();
  SkipInitGuard(const SkipInitGuard&) = delete;
  SkipInitGuard& operator=(const SkipInitGuard&) = delete;

 private:
  bool previous_;
};

/// Sets a parameter to a checkpoint's tensor of the same shape. When the dtypes match and
/// value is contiguous and starts on a 64-byte line, the parameter takes value's storage
/// (torch's `param.data = value`, load_state_dict(assign=True)): a tensor of a memory-mapped
/// checkpoint then backs the parameter with no copy, copy-on-write. Otherwise value is copied
/// (and converted) into it, and the file pages under value, if any, go back to the kernel
/// (Storage::release_file_pages). The parameter keeps its identity, requires_grad and gradient.
void load_(const Tensor& param, const Tensor& value);

}  // namespace nabla::nn::init
