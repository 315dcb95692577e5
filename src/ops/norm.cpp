// layer_norm and rms_norm over the last dim: checks, the row kernels, and their backward.
// Row statistics are saved in the compute dtype (f32 for bf16) so backward needs no recompute.
#include "nabla/autograd/node.h"
#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/layer_norm.h"
#include "nabla/kernels/cpu/rms_norm.h"
#include "nabla/ops/nn_functional.h"
#include "ops/nn_internal.h"

namespace nabla {

namespace {

using autograd::Grads;
using nn_detail::compute_dtype;
using nn_detail::dense;

// Checks input (..., C) and an optional per-channel parameter (C); returns C.
int64_t check_norm_operands(const char* op, const Tensor& x, const Tensor& weight,
                            const Tensor& bias) {
  check_defined(op, x, "input");
  NABLA_CHECK_SHAPE(x.dim() >= 1, op, ": expected input with at least 1 dim, got ", x.describe());
  const int64_t C = x.size(-1);
  for (const auto& [name, p] : {std::pair<const char*, const Tensor&>{"weight", weight},
                                std::pair<const char*, const Tensor&>{"bias", bias}}) {
    if (!p.defined()) continue;
    check_same(op, {{"input", x}, {name, p}});
    NABLA_CHECK_SHAPE(p.shape() == Shape{C}, op, ": ", name, " ", p.shape(),
                      " does not match the last dim of input ", x.shape());
  }
  return C;
}

template <typename T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Records y = layer_norm(input) with its backward: xs is the normalised rows' dense data
// (input's, detached), mean and rstd the saved row statistics.
template <typename T>
Tensor record_layer_norm(const char* op, const Tensor& y, const Tensor& input,
                         const Tensor& weight, const Tensor& bias, const Tensor& xs,
                         const Tensor& wd, const Tensor& mean, const Tensor& rstd, int64_t N,
                         int64_t C) {
  using CT = compute_t<T>;
  const Tensor ws = wd.defined() ? wd.detach() : Tensor();
  return autograd::record(op, y, {input, weight, bias}, [=](const Tensor& dy, Grads& g) {
    kernels::cpu::layer_norm_backward<T>(g.ptr<T>(0), g.ptr<T>(1), g.ptr<T>(2), dy.data<T>(),
                                         xs.data<T>(), data_or_null<T>(ws), mean.data<CT>(),
                                         rstd.data<CT>(), N, C);
  });
}

}  // namespace

// y = (x - mean) * rstd * w + b over the last dim; x: (N, C), w, b: (C) or undefined.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  const int64_t C = check_norm_operands("layer_norm", x, weight, bias);
  const int64_t N = C == 0 ? 0 : x.numel() / C;
  const Tensor xd = dense(x), wd = weight.defined() ? dense(weight) : Tensor();
  const Tensor bd = bias.defined() ? dense(bias) : Tensor();
  return dispatch_floating(x.dtype(), "layer_norm", [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using CT = compute_t<T>;
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    Tensor mean = Tensor::empty({N}, compute_dtype(x.dtype()));  // (N) saved for backward
    Tensor rstd = Tensor::empty({N}, compute_dtype(x.dtype()));  // (N)
    kernels::cpu::layer_norm_forward<T>(y.data<T>(), mean.data<CT>(), rstd.data<CT>(), xd.data<T>(),
                                        data_or_null<T>(wd), data_or_null<T>(bd), N, C, eps);
    return record_layer_norm<T>("layer_norm", y, x, weight, bias, xd.detach(), wd, mean, rstd,
                                N, C);
  });
}

// h = x + r, y = layer_norm(h): one kernel pass. Two single-output nodes carry the gradients:
// h's node passes dh to x and r; y's node is layer_norm's backward with h as its input.
std::pair<Tensor, Tensor> add_layer_norm(const Tensor& x, const Tensor& residual,
                                         const Tensor& weight, const Tensor& bias, double eps) {
  const int64_t C = check_norm_operands("add_layer_norm", x, weight, bias);
  check_defined("add_layer_norm", residual, "residual");
  check_same("add_layer_norm", {{"input", x}, {"residual", residual}});
  NABLA_CHECK_SHAPE(residual.shape() == x.shape(), "add_layer_norm: residual ", residual.shape(),
                    " does not match input ", x.shape(), " (no broadcasting)");
  const int64_t N = C == 0 ? 0 : x.numel() / C;
  const Tensor xd = dense(x), rd = dense(residual);
  const Tensor wd = weight.defined() ? dense(weight) : Tensor();
  const Tensor bd = bias.defined() ? dense(bias) : Tensor();
  return dispatch_floating(x.dtype(), "add_layer_norm", [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using CT = compute_t<T>;
    Tensor h = Tensor::empty(x.shape(), x.dtype());
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    Tensor mean = Tensor::empty({N}, compute_dtype(x.dtype()));  // (N) saved for backward
    Tensor rstd = Tensor::empty({N}, compute_dtype(x.dtype()));  // (N)
    kernels::cpu::add_layer_norm_forward<T>(h.data<T>(), y.data<T>(), mean.data<CT>(),
                                            rstd.data<CT>(), xd.data<T>(), rd.data<T>(),
                                            data_or_null<T>(wd), data_or_null<T>(bd), N, C, eps);
    const Tensor hs = h.detach();
    h = autograd::record("add_layer_norm", h, {x, residual}, [](const Tensor& dh, Grads& g) {
      g.add(0, dh);
      g.add(1, dh);
    });
    y = record_layer_norm<T>("add_layer_norm", y, h, weight, bias, hs, wd, mean, rstd, N, C);
    return std::pair<Tensor, Tensor>{h, y};
  });
}

// y = x * rstd * w over the last dim, rstd = 1 / sqrt(mean(x^2) + eps); x: (N, C), w: (C).
Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  const int64_t C = check_norm_operands("rms_norm", x, weight, Tensor());
  const int64_t N = C == 0 ? 0 : x.numel() / C;
  const Tensor xd = dense(x), wd = weight.defined() ? dense(weight) : Tensor();
  return dispatch_floating(x.dtype(), "rms_norm", [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using CT = compute_t<T>;
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    Tensor rstd = Tensor::empty({N}, compute_dtype(x.dtype()));  // (N) saved for backward
    kernels::cpu::rms_norm_forward<T>(y.data<T>(), rstd.data<CT>(), xd.data<T>(),
                                      data_or_null<T>(wd), N, C, eps);
    const Tensor xs = xd.detach(), ws = wd.defined() ? wd.detach() : Tensor();
    return autograd::record("rms_norm", y, {x, weight}, [=](const Tensor& dy, Grads& g) {
      kernels::cpu::rms_norm_backward<T>(g.ptr<T>(0), g.ptr<T>(1), dy.data<T>(), xs.data<T>(),
                                         data_or_null<T>(ws), rstd.data<CT>(), N, C);
    });
  });
}

}  // namespace nabla
