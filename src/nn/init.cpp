// torch.nn.init twins. Formulas and error texts follow torch/nn/init.py.
#include "nabla/nn/init.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>

#include "nabla/autograd/grad_mode.h"
#include "nabla/ops/creation.h"

namespace nabla::nn::init {

namespace {

double fan_for(const Tensor& t, const std::string& mode) {
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  NABLA_CHECK(mode == "fan_in" || mode == "fan_out", "kaiming init: mode ", mode,
              " not supported, please use fan_in or fan_out");
  return static_cast<double>(mode == "fan_in" ? fan_in : fan_out);
}

// Inverse error function: Giles' single-precision approximation (2010) refined by two Newton
// steps on erf, which brings it to double precision on (-1, 1).
double erfinv(double y) {
  if (y <= -1.0) return -INFINITY;
  if (y >= 1.0) return INFINITY;
  double w = -std::log((1.0 - y) * (1.0 + y)), x;
  if (w < 5.0) {
    w -= 2.5;
    x = 2.81022636e-08;
    for (double c : {3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                     -0.00417768164, 0.246640727, 1.50140941}) x = c + x * w;
  } else {
    w = std::sqrt(w) - 3.0;
    x = -0.000200214257;
    for (double c : {0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                     0.00943887047, 1.00167406, 2.83297682}) x = c + x * w;
  }
  x *= y;
  for (int i = 0; i < 2; ++i) {
    x -= (std::erf(x) - y) / (2.0 / std::sqrt(std::numbers::pi) * std::exp(-x * x));
  }
  return x;
}

thread_local bool skip_init = false;

}  // namespace

SkipInitGuard::SkipInitGuard() : previous_(skip_init) { skip_init = true; }
SkipInitGuard::~SkipInitGuard() { skip_init = previous_; }

void load_(const Tensor& param, const Tensor& value) {
  NABLA_CHECK_SHAPE(param.shape() == value.shape(), "load_: value ", value.describe(),
                    " does not match parameter ", param.describe());
  NABLA_CHECK(param.is_leaf(), "load_: ", param.describe(), " is not a leaf");
  // Misaligned data would cost every vector load two cache lines: f32 decoding from a llama2.c
  // v0 file (28-byte header) shared in place ran 8-10% slower than from a copy.
  const bool aligned = reinterpret_cast<uintptr_t>(value.raw_data()) % 64 == 0;
  if (value.dtype() == param.dtype() && value.is_contiguous() && aligned) {
    TensorImpl& p = param.impl();
    p.storage = value.storage();
    p.offset = value.offset();
    p.strides = value.strides();
    return;
  }
  NoGradGuard no_grad;
  Tensor(param).copy_(value);
  // Copied out of a mapped checkpoint: the file's pages are not read again, so they go back
  // now rather than when the file's last view dies (a llama2.c v0 file's load peaked at twice
  // its size).
  if (value.is_contiguous()) {
    const auto esize = static_cast<size_t>(value.element_size());
    value.storage()->release_file_pages(static_cast<size_t>(value.offset()) * esize,
                                        static_cast<size_t>(value.numel()) * esize);
  }
}

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor) {
  NABLA_CHECK_SHAPE(tensor.dim() >= 2, "Fan in and fan out can not be computed for tensor with ",
                    "fewer than 2 dimensions, got ", tensor.describe());
  int64_t receptive = 1;
  for (int64_t i = 2; i < tensor.dim(); ++i) receptive *= tensor.size(i);
  return {tensor.size(1) * receptive, tensor.size(0) * receptive};
}

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid" || nonlinearity.starts_with("conv")) {
    return 1.0;
  }
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu") return 3.0 / 4.0;
  NABLA_CHECK(false, "calculate_gain: unsupported nonlinearity ", nonlinearity);
  return 1.0;
}

Tensor uniform_(Tensor tensor, double a, double b) {
  if (skip_init) return tensor;
  NoGradGuard no_grad;
  tensor.uniform_(a, b);
  return tensor;
}

Tensor normal_(Tensor tensor, double mean, double stddev) {
  if (skip_init) return tensor;
  NoGradGuard no_grad;
  tensor.normal_(mean, stddev);
  return tensor;
}

Tensor constant_(Tensor tensor, double value) {
  if (skip_init) return tensor;
  NoGradGuard no_grad;
  tensor.fill_(value);
  return tensor;
}

Tensor zeros_(Tensor tensor) { return constant_(std::move(tensor), 0.0); }
Tensor ones_(Tensor tensor) { return constant_(std::move(tensor), 1.0); }

Tensor trunc_normal_(Tensor tensor, double mean, double stddev, double a, double b) {
  if (skip_init) return tensor;
  NoGradGuard no_grad;
  // u uniform on [cdf(a), cdf(b)] mapped through the inverse normal CDF (torch's method).
  auto cdf = [](double x) { return (1.0 + std::erf(x / std::numbers::sqrt2)) / 2.0; };
  const double lo = cdf((a - mean) / stddev), hi = cdf((b - mean) / stddev);
  Tensor u = rand(tensor.shape(), kFloat64);
  double* p = u.data<double>();
  for (int64_t i = 0; i < u.numel(); ++i) {
    const double v = 2.0 * (lo + (hi - lo) * p[i]) - 1.0;
    p[i] = std::clamp(erfinv(v) * stddev * std::numbers::sqrt2 + mean, a, b);
  }
  tensor.copy_(u);
  return tensor;
}

Tensor kaiming_uniform_(Tensor tensor, double a, const std::string& mode,
                        const std::string& nonlinearity) {
  const double stddev = calculate_gain(nonlinearity, a) / std::sqrt(fan_for(tensor, mode));
  const double bound = std::sqrt(3.0) * stddev;
  return uniform_(std::move(tensor), -bound, bound);
}

Tensor kaiming_normal_(Tensor tensor, double a, const std::string& mode,
                       const std::string& nonlinearity) {
  const double stddev = calculate_gain(nonlinearity, a) / std::sqrt(fan_for(tensor, mode));
  return normal_(std::move(tensor), 0.0, stddev);
}

Tensor xavier_uniform_(Tensor tensor, double gain) {
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  const double a = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform_(std::move(tensor), -a, a);
}

Tensor xavier_normal_(Tensor tensor, double gain) {
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  return normal_(std::move(tensor), 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)));
}

}  // namespace nabla::nn::init
