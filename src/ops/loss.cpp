// Losses: mse, binary cross-entropy (on probabilities and on logits), cross-entropy fused with
// log-softmax, and nll. Kernels give per-element losses in the compute dtype; finish_loss
// reduces them, and backward scales dy by the same reduction (nn_internal.h).
#include "nabla/autograd/node.h"
#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/binary_cross_entropy.h"
#include "nabla/kernels/cpu/binary_cross_entropy_with_logits.h"
#include "nabla/kernels/cpu/cross_entropy.h"
#include "nabla/kernels/cpu/mse_loss.h"
#include "nabla/kernels/cpu/nll_loss.h"
#include "nabla/ops/nn_functional.h"
#include "ops/nn_internal.h"

namespace nabla {

namespace {

using autograd::Grads;
using nn_detail::compute_dtype;
using nn_detail::dense;
using nn_detail::finish_loss;
using nn_detail::reduction_dy_stride;
using nn_detail::reduction_scale;

// Kernel pairs of the element-wise losses, so one function can run all three.
struct MseKernels {
  template <typename T, typename... A>
  static void forward(A... a) { kernels::cpu::mse_loss_forward<T>(a...); }
  template <typename T, typename... A>
  static void backward(A... a) { kernels::cpu::mse_loss_backward<T>(a...); }
};
struct BceKernels {
  template <typename T, typename... A>
  static void forward(A... a) { kernels::cpu::binary_cross_entropy_forward<T>(a...); }
  template <typename T, typename... A>
  static void backward(A... a) { kernels::cpu::binary_cross_entropy_backward<T>(a...); }
};
struct BceLogitsKernels {
  template <typename T, typename... A>
  static void forward(A... a) { kernels::cpu::binary_cross_entropy_with_logits_forward<T>(a...); }
  template <typename T, typename... A>
  static void backward(A... a) {
    kernels::cpu::binary_cross_entropy_with_logits_backward<T>(a...);
  }
};

// input, target: the same shape (any) and dtype; gradients flow to both.
template <typename K>
Tensor pointwise_loss(const char* op, const Tensor& input, const Tensor& target, Reduction r) {
  check_same(op, {{"input", input}, {"target", target}});
  NABLA_CHECK_SHAPE(input.shape() == target.shape(), op, ": target ", target.shape(),
                    " does not match input ", input.shape(), " (they must have the same shape)");
  const int64_t n = input.numel();
  const Tensor xd = dense(input), td = dense(target);
  return dispatch_floating(input.dtype(), op, [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using CT = compute_t<T>;
    if constexpr (std::is_same_v<K, BceKernels>) {
      const int64_t bad = kernels::cpu::first_outside_unit_interval<T>(xd.data<T>(), n);
      NABLA_CHECK(bad < 0, op, ": all elements of input should be between 0 and 1, found ",
                  static_cast<double>(xd.data<T>()[bad]), " at flat index ", bad, " of ",
                  input.describe());
    }
    Tensor per = Tensor::empty(input.shape(), compute_dtype(input.dtype()));  // (n)
    K::template forward<T>(per.data<CT>(), xd.data<T>(), td.data<T>(), n);
    Tensor out = finish_loss(per, input.dtype(), r, static_cast<double>(n), input.shape());
    const Tensor xs = xd.detach(), ts = td.detach();
    return autograd::record(op, out, {input, target}, [=](const Tensor& dy, Grads& g) {
      K::template backward<T>(g.ptr<T>(0), g.ptr<T>(1), dy.data<T>(), reduction_dy_stride(r),
                              reduction_scale(r, static_cast<double>(n)), xs.data<T>(),
                              ts.data<T>(), n);
    });
  });
}

// Logits or log-probs (N, C, d...) / (N, C) / (C) against class targets (N, d...) / (N) / ().
struct ClassLayout {
  int64_t N = 1, C = 1, D = 1;
  Shape loss_shape;  // the target's shape: what Reduction::None returns
  Tensor target;     // contiguous int64
  int64_t count = 0;  // targets that are not ignore_index
};

ClassLayout class_layout(const char* op, const Tensor& input, const Tensor& target,
                         int64_t ignore_index) {
  check_defined(op, input, "input");
  check_defined(op, target, "target");
  NABLA_CHECK_DTYPE(!target.is_floating_point(), op, ": expected target of class indices (int64), ",
                    "got ", target.describe(), "; class-probability targets are not supported");
  NABLA_CHECK_SHAPE(input.dim() >= 1, op, ": expected input of shape (C), (N, C) or (N, C, d...), ",
                    "got ", input.describe());
  ClassLayout l;
  Shape expected;
  if (input.dim() == 1) {
    l.C = input.size(0);
  } else {
    l.N = input.size(0);
    l.C = input.size(1);
    expected.push_back(l.N);
    for (int64_t i = 2; i < input.dim(); ++i) {
      l.D *= input.size(i);
      expected.push_back(input.size(i));
    }
  }
  NABLA_CHECK_SHAPE(target.shape() == expected, op, ": expected target of shape ", expected,
                    " for input ", input.shape(), ", got ", target.shape());
  l.loss_shape = expected;
  l.target = nn_detail::int64_indices(op, target, "target");
  const int64_t* t = l.target.data<int64_t>();
  for (int64_t p = 0; p < l.target.numel(); ++p) {
    if (t[p] == ignore_index) continue;
    NABLA_CHECK_SHAPE(t[p] >= 0 && t[p] < l.C, op, ": target ", t[p], " is out of bounds for ",
                      l.C, " classes (position ", p, " of target ", target.shape(), ")");
    ++l.count;
  }
  return l;
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  return pointwise_loss<MseKernels>("mse_loss", input, target, reduction);
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, Reduction reduction) {
  return pointwise_loss<BceKernels>("binary_cross_entropy", input, target, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        Reduction reduction) {
  return pointwise_loss<BceLogitsKernels>("binary_cross_entropy_with_logits", input, target,
                                          reduction);
}

// Mean divides by the number of targets that are not ignore_index (PyTorch's rule).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction,
                     int64_t ignore_index, double label_smoothing) {
  const ClassLayout l = class_layout("cross_entropy", logits, target, ignore_index);
  NABLA_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
              "cross_entropy: label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  const Tensor xd = dense(logits);
  return dispatch_floating(logits.dtype(), "cross_entropy", [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using CT = compute_t<T>;
    const int64_t P = l.N * l.D;
    Tensor per = Tensor::empty({P}, compute_dtype(logits.dtype()));  // (N*D)
    Tensor lse = Tensor::empty({P}, compute_dtype(logits.dtype()));  // (N*D) saved for backward
    const Tensor tgt = l.target;
    kernels::cpu::cross_entropy_forward<T>(per.data<CT>(), lse.data<CT>(), xd.data<T>(),
                                           tgt.data<int64_t>(), l.N, l.C, l.D, ignore_index,
                                           label_smoothing);
    const double count = static_cast<double>(l.count);
    Tensor out = finish_loss(per, logits.dtype(), reduction, count, l.loss_shape);
    const Tensor xs = xd.detach();
    const int64_t N = l.N, C = l.C, D = l.D;
    return autograd::record("cross_entropy", out, {logits}, [=](const Tensor& dy, Grads& g) {
      if (!g.needs(0)) return;
      kernels::cpu::cross_entropy_backward<T>(
          g.ptr<T>(0), dy.data<T>(), reduction_dy_stride(reduction),
          reduction_scale(reduction, count), xs.data<T>(), lse.data<CT>(), tgt.data<int64_t>(), N,
          C, D, ignore_index, label_smoothing);
    });
  });
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction,
                int64_t ignore_index) {
  const ClassLayout l = class_layout("nll_loss", log_probs, target, ignore_index);
  const Tensor xd = dense(log_probs);
  return dispatch_floating(log_probs.dtype(), "nll_loss", [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    using CT = compute_t<T>;
    Tensor per = Tensor::empty({l.N * l.D}, compute_dtype(log_probs.dtype()));  // (N*D)
    const Tensor tgt = l.target;
    kernels::cpu::nll_loss_forward<T>(per.data<CT>(), xd.data<T>(), tgt.data<int64_t>(), l.N, l.C,
                                      l.D, ignore_index);
    const double count = static_cast<double>(l.count);
    Tensor out = finish_loss(per, log_probs.dtype(), reduction, count, l.loss_shape);
    const int64_t N = l.N, C = l.C, D = l.D;
    return autograd::record("nll_loss", out, {log_probs}, [=](const Tensor& dy, Grads& g) {
      if (!g.needs(0)) return;
      kernels::cpu::nll_loss_backward<T>(g.ptr<T>(0), dy.data<T>(), reduction_dy_stride(reduction),
                                         reduction_scale(reduction, count), tgt.data<int64_t>(), N,
                                         C, D, ignore_index);
    });
  });
}

}  // namespace nabla
