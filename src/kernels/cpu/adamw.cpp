// Fused SGD / Adam / AdamW updates. One pass per tensor reads (param, grad, state) and writes
// (param, state): the update is memory-bound (28 bytes/element for f32 Adam), so fusing the
// ~8 separate torch kernels into one loop is the whole optimisation. Scalar hyperparameters are
// formed in double exactly as torch's Python code forms them, then rounded to the compute type
// once, as torch's tensor ops do with Python scalars. Built with -fno-math-errno (CMakeLists):
// with errno semantics GCC cannot vectorise std::sqrt, and the Adam loop stays scalar.
#include "nabla/kernels/cpu/adamw.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nabla::kernels::cpu {

namespace {

// Below this many elements a parallel region costs more than it saves (DESIGN.md, ~32K).
constexpr int64_t kParallelThreshold = 1 << 15;

// The scalars of one Adam step in the compute type S, formed as torch forms them.
template <typename S>
struct AdamCoeffs {
  S beta1, beta2, one_minus_beta1, one_minus_beta2, neg_step_size, bias_correction2_sqrt, eps,
      wd, decay;
  bool l2;
};

template <typename S>
AdamCoeffs<S> adam_coeffs(const AdamParams& h, bool decoupled) {
  const auto step = static_cast<double>(h.step);
  const double bias_correction1 = 1.0 - std::pow(h.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(h.beta2, step);
  return AdamCoeffs<S>{
      .beta1 = static_cast<S>(h.beta1),
      .beta2 = static_cast<S>(h.beta2),
      .one_minus_beta1 = static_cast<S>(1.0 - h.beta1),
      .one_minus_beta2 = static_cast<S>(1.0 - h.beta2),
      .neg_step_size = static_cast<S>(-(h.lr / bias_correction1)),
      .bias_correction2_sqrt = static_cast<S>(std::sqrt(bias_correction2)),
      .eps = static_cast<S>(h.eps),
      .wd = static_cast<S>(h.weight_decay),
      .decay = static_cast<S>(1.0 - h.lr * h.weight_decay),  // AdamW's p *= 1 - lr*wd
      .l2 = !decoupled && h.weight_decay != 0.0};
}

// out = grad * scale stored in T, as clip's in-place scale stores it. A loop of its own that
// stores: inside the update's expression the compiler could fuse the product into a following
// add (an FMA) and skip that rounding.
template <typename T, typename S>
void scale_into(T* out, const T* grad, int64_t n, S scale) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(static_cast<S>(grad[i]) * scale);
}

// One contiguous run of n elements. T: the parameter's storage type; S: compute/state type.
template <typename T, typename S, bool kDecoupled>
void adam_run(T* param, const T* grad, S* m, S* v, int64_t n, const AdamCoeffs<S>& c) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    auto p = static_cast<S>(param[i]);
    auto g = static_cast<S>(grad[i]);
    if constexpr (kDecoupled) {
      p = p * c.decay;
    } else {
      g = c.l2 ? g + c.wd * p : g;  // torch: grad = grad.add(param, alpha=weight_decay)
    }
    const S mi = m[i] * c.beta1 + c.one_minus_beta1 * g;
    const S vi = v[i] * c.beta2 + c.one_minus_beta2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const S denom = std::sqrt(vi) / c.bias_correction2_sqrt + c.eps;
    p = p + c.neg_step_size * mi / denom;  // torch: param.addcdiv_(exp_avg, denom, value=-step_size)
    param[i] = static_cast<T>(p);
  }
}

// Chunks of this many elements are the unit of work shared among threads (64 KiB per f32
// stream: small enough to balance, large enough to amortise the loop setup).
constexpr int64_t kChunk = 1 << 14;

template <typename T, bool kDecoupled>
void adam_multi(std::span<const AdamTensor<T>> tensors) {
  using S = compute_t<T>;
  struct Chunk {
    size_t tensor;
    int64_t begin, len;
  };
  std::vector<AdamCoeffs<S>> coeffs;
  std::vector<Chunk> chunks;
  int64_t total = 0;
  for (size_t t = 0; t < tensors.size(); ++t) {
    coeffs.push_back(adam_coeffs<S>(tensors[t].h, kDecoupled));
    for (int64_t b = 0; b < tensors[t].n; b += kChunk) {
      chunks.push_back({t, b, std::min(kChunk, tensors[t].n - b)});
    }
    total += tensors[t].n;
  }
  const auto count = static_cast<int64_t>(chunks.size());
#pragma omp parallel if (total > kParallelThreshold)
  {
    std::vector<T> scaled;  // this thread's chunk of scaled gradients (in cache)
#pragma omp for schedule(static)
    for (int64_t k = 0; k < count; ++k) {
      const Chunk& ch = chunks[static_cast<size_t>(k)];
      const AdamTensor<T>& x = tensors[ch.tensor];
      const T* grad = x.grad + ch.begin;
      if (x.h.grad_scale != 1.0) {
        scaled.resize(static_cast<size_t>(kChunk));
        scale_into(scaled.data(), grad, ch.len, static_cast<S>(x.h.grad_scale));
        grad = scaled.data();
      }
      adam_run<T, S, kDecoupled>(x.param + ch.begin, grad, x.m + ch.begin, x.v + ch.begin,
                                 ch.len, coeffs[ch.tensor]);
    }
  }
}

template <typename T>
void adam_dispatch(std::span<const AdamTensor<T>> tensors, bool decoupled) {
  if (decoupled) {
    adam_multi<T, true>(tensors);
  } else {
    adam_multi<T, false>(tensors);
  }
}

template <typename T>
void adam_one(T* param, const T* grad, compute_t<T>* m, compute_t<T>* v, int64_t n,
              const AdamParams& h, bool decoupled) {
  const AdamTensor<T> one{param, grad, m, v, n, h};
  adam_dispatch<T>(std::span<const AdamTensor<T>>(&one, 1), decoupled);
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
  adam_one(param, grad, m, v, n, h, true);
}
void adamw_update(double* param, const double* grad, double* m, double* v, int64_t n,
                  const AdamParams& h) {
  adam_one(param, grad, m, v, n, h, true);
}
void adamw_update(BFloat16* param, const BFloat16* grad, float* m, float* v, int64_t n,
                  const AdamParams& h) {
  adam_one(param, grad, m, v, n, h, true);
}
void adamw_update(float* param, const float* grad, float* m, float* v, int64_t n, double lr,
                  double beta1, double beta2, double eps, double weight_decay, int64_t step) {
  adam_one(param, grad, m, v, n,
           AdamParams{.lr = lr, .beta1 = beta1, .beta2 = beta2, .eps = eps,
                      .weight_decay = weight_decay, .step = step},
           true);
}

void adam_update(float* param, const float* grad, float* m, float* v, int64_t n,
                 const AdamParams& h) {
  adam_one(param, grad, m, v, n, h, false);
}
void adam_update(double* param, const double* grad, double* m, double* v, int64_t n,
                 const AdamParams& h) {
  adam_one(param, grad, m, v, n, h, false);
}
void adam_update(BFloat16* param, const BFloat16* grad, float* m, float* v, int64_t n,
                 const AdamParams& h) {
  adam_one(param, grad, m, v, n, h, false);
}

void adam_update_multi(std::span<const AdamTensor<float>> tensors, bool decoupled) {
  adam_dispatch(tensors, decoupled);
}
void adam_update_multi(std::span<const AdamTensor<double>> tensors, bool decoupled) {
  adam_dispatch(tensors, decoupled);
}
void adam_update_multi(std::span<const AdamTensor<BFloat16>> tensors, bool decoupled) {
  adam_dispatch(tensors, decoupled);
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
