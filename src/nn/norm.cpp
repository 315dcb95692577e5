// nn::LayerNorm and nn::RMSNorm: parameters, init and forward through the fused ops.
#include "nabla/nn/norm.h"

#include <sstream>

#include "nabla/ops/creation.h"
#include "nabla/ops/nn_functional.h"

namespace nabla::nn {

namespace {
// torch.finfo(dtype).eps
double machine_eps(DType dtype) {
  switch (dtype) {
    case DType::F64: return 2.220446049250313e-16;
    case DType::BF16: return 0.0078125;
    default: return 1.1920928955078125e-07;
  }
}
}  // namespace

LayerNorm::LayerNorm(int64_t C, double epsilon, bool affine, bool with_bias)
    : normalized_shape(C), eps(epsilon), elementwise_affine(affine) {
  if (affine) {
    weight = register_parameter("weight", ones({C}));
    if (with_bias) bias = register_parameter("bias", zeros({C}));
  }
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, weight, bias, eps); }

std::pair<Tensor, Tensor> LayerNorm::forward_add(const Tensor& x, const Tensor& residual) {
  return add_layer_norm(x, residual, weight, bias, eps);
}

std::string LayerNorm::extra_repr() const {
  std::ostringstream os;  // (GCC 12 misreports -Wrestrict on chained string +)
  os << "(" << normalized_shape << ",), eps=" << py_repr(eps)
     << ", elementwise_affine=" << py_repr(elementwise_affine);
  return os.str();
}

RMSNorm::RMSNorm(int64_t C, std::optional<double> epsilon, bool affine)
    : normalized_shape(C), eps(epsilon), elementwise_affine(affine) {
  if (affine) weight = register_parameter("weight", ones({C}));
}

Tensor RMSNorm::forward(const Tensor& x) {
  return rms_norm(x, weight, eps ? *eps : machine_eps(x.dtype()));
}

std::string RMSNorm::extra_repr() const {
  std::ostringstream os;
  os << "(" << normalized_shape << ",), eps=" << (eps ? py_repr(*eps) : "None")
     << ", elementwise_affine=" << py_repr(elementwise_affine);
  return os.str();
}

}  // namespace nabla::nn
