// Fused SGD / Adam / AdamW updates. One pass per tensor reads (param, grad, state) and writes
// (param, state): the update is memory-bound (28 bytes/element for f32 Adam), so fusing the
// ~8 separate torch kernels into one loop is the whole optimisation. Scalar hyperparameters are
// formed in double exactly as torch's Python code forms them, then rounded to the compute type
// once, as torch's tensor ops do with Python scalars. Built with -fno-math-errno (CMakeLists):
// with errno semantics GCC cannot vectorise std::sqrt, and the Adam loop stays scalar.
#include "nabla/kernels/cpu/adamw.h"

#include <cmath>

namespace nabla::kernels::cpu {

namespace {

// Below this many elements a parallel region costs more than it saves (DESIGN.md, ~32K).
constexpr int64_t kParallelThreshold = 1 << 15;

// T: the parameter's storage type; S: the compute and state type.
template <typename T, typename S, bool kDecoupled>
void adam_impl(T* param, const T* grad, S* m, S* v, int64_t n, const AdamParams& h) {
  const auto step = static_cast<double>(h.step);
  const double bias_correction1 = 1.0 - std::pow(h.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(h.beta2, step);
  const auto beta1 = static_cast<S>(h.beta1);
  const auto beta2 = static_cast<S>(h.beta2);
  const auto one_minus_beta1 = static_cast<S>(1.0 - h.beta1);
  const auto one_minus_beta2 = static_cast<S>(1.0 - h.beta2);
  const auto neg_step_size = static_cast<S>(-(h.lr / bias_correction1));
  const auto bias_correction2_sqrt = static_cast<S>(std::sqrt(bias_correction2));
  const auto eps = static_cast<S>(h.eps);
  const auto wd = static_cast<S>(h.weight_decay);
  const auto decay = static_cast<S>(1.0 - h.lr * h.weight_decay);  // AdamW's p *= 1 - lr*wd
  const bool l2 = !kDecoupled && h.weight_decay != 0.0;
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    auto p = static_cast<S>(param[i]);
    auto g = static_cast<S>(grad[i]);
    if constexpr (kDecoupled) {
      p = p * decay;
    } else {
      g = l2 ? g + wd * p : g;  // torch: grad = grad.add(param, alpha=weight_decay)
    }
    const S mi = m[i] * beta1 + one_minus_beta1 * g;
    const S vi = v[i] * beta2 + one_minus_beta2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const S denom = std::sqrt(vi) / bias_correction2_sqrt + eps;
    p = p + neg_step_size * mi / denom;  // torch: param.addcdiv_(exp_avg, denom, value=-step_size)
    param[i] = static_cast<T>(p);
  }
}

template <typename T, typename S>
void sgd_impl(T* param, const T* grad, S* buf, int64_t n, const SGDParams& h) {
  const auto wd = static_cast<S>(h.weight_decay);
  const auto momentum = static_cast<S>(h.momentum);
  const auto one_minus_dampening = static_cast<S>(1.0 - h.dampening);
  const auto neg_lr = static_cast<S>(-h.lr);
  const bool decay = h.weight_decay != 0.0;
  if (buf == nullptr) {
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const auto p = static_cast<S>(param[i]);
      auto g = static_cast<S>(grad[i]);
      g = decay ? g + wd * p : g;
      param[i] = static_cast<T>(p + neg_lr * g);
    }
    return;
  }
  const bool first = h.first_step;
  const bool nesterov = h.nesterov;
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const auto p = static_cast<S>(param[i]);
    auto g = static_cast<S>(grad[i]);
    g = decay ? g + wd * p : g;
    // torch: buf = clone(d_p) on the first step, else buf.mul_(momentum).add_(d_p, 1 - dampening)
    const S b = first ? g : buf[i] * momentum + one_minus_dampening * g;
    buf[i] = b;
    g = nesterov ? g + momentum * b : b;
    param[i] = static_cast<T>(p + neg_lr * g);
  }
}

}  // namespace

void adamw_update(float* param, const float* grad, float* m, float* v, int64_t n,
                  const AdamParams& h) {
  adam_impl<float, float, true>(param, grad, m, v, n, h);
}
void adamw_update(double* param, const double* grad, double* m, double* v, int64_t n,
                  const AdamParams& h) {
  adam_impl<double, double, true>(param, grad, m, v, n, h);
}
void adamw_update(BFloat16* param, const BFloat16* grad, float* m, float* v, int64_t n,
                  const AdamParams& h) {
  adam_impl<BFloat16, float, true>(param, grad, m, v, n, h);
}
void adamw_update(float* param, const float* grad, float* m, float* v, int64_t n, double lr,
                  double beta1, double beta2, double eps, double weight_decay, int64_t step) {
  adam_impl<float, float, true>(
      param, grad, m, v, n,
      AdamParams{.lr = lr, .beta1 = beta1, .beta2 = beta2, .eps = eps,
                 .weight_decay = weight_decay, .step = step});
}

void adam_update(float* param, const float* grad, float* m, float* v, int64_t n,
                 const AdamParams& h) {
  adam_impl<float, float, false>(param, grad, m, v, n, h);
}
void adam_update(double* param, const double* grad, double* m, double* v, int64_t n,
                 const AdamParams& h) {
  adam_impl<double, double, false>(param, grad, m, v, n, h);
}
void adam_update(BFloat16* param, const BFloat16* grad, float* m, float* v, int64_t n,
                 const AdamParams& h) {
  adam_impl<BFloat16, float, false>(param, grad, m, v, n, h);
}

void sgd_update(float* param, const float* grad, float* buf, int64_t n, const SGDParams& h) {
  sgd_impl<float, float>(param, grad, buf, n, h);
}
void sgd_update(double* param, const double* grad, double* buf, int64_t n, const SGDParams& h) {
  sgd_impl<double, double>(param, grad, buf, n, h);
}
void sgd_update(BFloat16* param, const BFloat16* grad, float* buf, int64_t n,
                const SGDParams& h) {
  sgd_impl<BFloat16, float>(param, grad, buf, n, h);
}

}  // namespace nabla::kernels::cpu
