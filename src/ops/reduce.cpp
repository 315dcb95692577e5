// Reductions (sum, mean, var, max/min, argmax/argmin, norm) and the softmax family. Every op
// brings its input to a contiguous (outer, R, inner) buffer (a copy only when the input is
// not contiguous, or when the reduced dims are not adjacent, which permutes them to the end)
// and calls a kernel; backward closures sit beside their forward.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "nabla/autograd/node.h"
#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/reduce.h"
#include "nabla/kernels/cpu/softmax.h"
#include "nabla/ops/creation.h"
#include "nabla/ops/reduce.h"
#include "ops/strided.h"

namespace nabla {

using autograd::Grads;
using ops_detail::dense;
using ops_detail::materialize;
using ops_detail::raw_view;

namespace {

// How a reduction over some dims of `a` maps onto (outer, R, inner).
struct Plan {
  Tensor src;           // contiguous (outer, R, inner) data, detached
  int64_t outer = 1, R = 1, inner = 1;
  Shape in_shape;       // a's shape
  Shape keep_shape;     // a's shape with reduced dims set to 1
  Shape out_shape;      // keep_shape, or without the reduced dims when !keepdim
  Shape perm;           // when non-empty: src holds a permuted by perm (kept dims first)
};

// Marks the reduced dims; an empty list means all dims (torch.sum(x, dim=[])).
std::vector<bool> reduced_mask(const Tensor& a, const Shape& dims, const char* op) {
  const int64_t nd = a.dim();
  std::vector<bool> mask(static_cast<size_t>(nd), dims.empty());
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, std::max<int64_t>(nd, 1), op);
    if (nd == 0) continue;  // a 0-d tensor accepts dim 0 / -1, like PyTorch
    NABLA_CHECK_SHAPE(!mask[static_cast<size_t>(w)], op, ": dim ", w,
                      " appears multiple times in the list of dims");
    mask[static_cast<size_t>(w)] = true;
  }
  return mask;
}

Plan make_plan(const Tensor& a, const std::vector<bool>& mask, bool keepdim) {
  Plan p;
  p.in_shape = a.shape();
  const int64_t nd = a.dim();
  int64_t lo = nd, hi = -1;
  for (int64_t d = 0; d < nd; ++d) {
    const int64_t s = a.shape()[d];
    if (mask[static_cast<size_t>(d)]) {
      lo = std::min(lo, d);
      hi = std::max(hi, d);
      p.keep_shape.push_back(1);
    } else {
      p.keep_shape.push_back(s);
      p.out_shape.push_back(s);
    }
  }
  if (keepdim) p.out_shape = p.keep_shape;
  bool adjacent = true;
  for (int64_t d = lo; d <= hi; ++d) adjacent = adjacent && mask[static_cast<size_t>(d)];
  if (hi < 0) {  // nothing reduced (0-d input)
    p.src = dense(a);
    p.outer = a.numel();
    return p;
  }
  if (adjacent) {
    p.src = dense(a);
    for (int64_t d = 0; d < nd; ++d) {
      (d < lo ? p.outer : (d <= hi ? p.R : p.inner)) *= a.shape()[d];
    }
    return p;
  }
  Shape sizes, strides;
  for (int pass = 0; pass < 2; ++pass) {
    for (int64_t d = 0; d < nd; ++d) {
      if (mask[static_cast<size_t>(d)] != (pass == 1)) continue;
      p.perm.push_back(d);
      sizes.push_back(a.shape()[d]);
      strides.push_back(a.strides()[d]);
      (pass == 0 ? p.outer : p.R) *= a.shape()[d];
    }
  }
  p.src = materialize(a, sizes, strides);
  return p;
}

// A zero tensor laid out like plan.src, for backward kernels that accumulate with +=.
Tensor zeros_like_src(const Plan& p, DType dtype) { return zeros({p.outer * p.R * p.inner}, dtype); }

// The gradient buffer laid out like plan.src, returned in the input's shape.
Tensor from_src_layout(const Plan& p, const Tensor& g) {
  if (p.perm.empty()) return raw_view(g, p.in_shape, contiguous_strides(p.in_shape));
  // g holds a permuted: write it through a permuted view of a fresh tensor of the input shape.
  Tensor out = Tensor::empty(p.in_shape, g.dtype());
  const Shape in_strides = contiguous_strides(p.in_shape);
  Shape sizes, strides;
  for (int64_t d : p.perm) {
    sizes.push_back(p.in_shape[d]);
    strides.push_back(in_strides[d]);
  }
  const Shape g_strides = contiguous_strides(sizes);
  kernels::cpu::copy_strided_to_strided(out.raw_data(), strides.data(), g.raw_data(),
                                        g_strides.data(), g.element_size(), sizes.data(),
                                        static_cast<int64_t>(sizes.size()));
  return out;
}

// dy (out_shape) broadcast back over the reduced dims, times scale: the input's shape.
Tensor expand_back(const Plan& p, const Tensor& dy, double scale) {
  Shape strides = contiguous_strides(p.keep_shape);
  for (size_t d = 0; d < p.keep_shape.size(); ++d) {
    if (p.keep_shape[d] == 1) strides[d] = 0;
  }
  Tensor g = materialize(dy, p.in_shape, strides);
  if (scale != 1.0) {
    dispatch_floating(g.dtype(), "sum", [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      T* d = g.data<T>();
      const int64_t n = g.numel();
#pragma omp parallel for simd if (n > (1 << 15)) schedule(static)
      for (int64_t i = 0; i < n; ++i) d[i] = static_cast<T>(static_cast<compute_t<T>>(d[i]) * scale);
    });
  }
  return g;
}

Tensor sum_impl(const Tensor& a, const Shape& dims, bool keepdim, bool mean, const char* op) {
  check_defined(op, a, "input");
  const Plan p = make_plan(a, reduced_mask(a, dims, op), keepdim);
  if (is_integral(a.dtype())) {
    NABLA_CHECK_DTYPE(!mean, op, ": could not infer output dtype. Input dtype must be either a "
                      "floating point or complex dtype. Got: ", a.dtype());
    Tensor out = Tensor::empty(p.out_shape, kInt64);
    dispatch_dtype(a.dtype(), [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      if constexpr (!std::is_floating_point_v<T> && !std::is_same_v<T, BFloat16>) {
        kernels::cpu::sum_integer_forward(out.data<int64_t>(), p.src.data<T>(), p.outer, p.R,
                                          p.inner);
      }
    });
    return out;
  }
  Tensor out = Tensor::empty(p.out_shape, a.dtype());
  const double scale = mean ? 1.0 / static_cast<double>(p.R) : 1.0;
  dispatch_floating(a.dtype(), op, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    kernels::cpu::sum_forward(out.data<T>(), p.src.data<T>(), p.outer, p.R, p.inner, scale);
  });
  Plan bp = p;
  bp.src = Tensor();  // backward needs only the shapes
  return autograd::record(op, out, {a}, [bp, scale](const Tensor& dy, Grads& g) {
    g.add(0, expand_back(bp, dy, scale));
  });
}

}  // namespace

Tensor sum(const Tensor& a) { return sum_impl(a, {}, false, false, "sum"); }
Tensor sum(const Tensor& a, const Shape& dims, bool keepdim) {
  return sum_impl(a, dims, keepdim, false, "sum");
}
Tensor mean(const Tensor& a) { return sum_impl(a, {}, false, true, "mean"); }
Tensor mean(const Tensor& a, const Shape& dims, bool keepdim) {
  return sum_impl(a, dims, keepdim, true, "mean");
}

Tensor var(const Tensor& a, const Shape& dims, int64_t correction, bool keepdim) {
  check_defined("var", a, "input");
  Plan p = make_plan(a, reduced_mask(a, dims, "var"), keepdim);
  Tensor out = Tensor::empty(p.out_shape, a.dtype());
  Tensor mu = Tensor::empty(p.out_shape, a.dtype());
  dispatch_floating(a.dtype(), "var", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    kernels::cpu::var_forward(out.data<T>(), mu.data<T>(), p.src.data<T>(), p.outer, p.R, p.inner,
                              correction);
  });
  return autograd::record("var", out, {a}, [p, mu, correction](const Tensor& dy, Grads& g) {
    Tensor dx = zeros_like_src(p, dy.dtype());
    dispatch_floating(dx.dtype(), "var", [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      kernels::cpu::var_backward(dx.data<T>(), dy.data<T>(), p.src.data<T>(), mu.data<T>(),
                                 p.outer, p.R, p.inner, correction);
    });
    g.add(0, from_src_layout(p, dx));
  });
}

namespace {

template <typename Fn>
void dispatch_orderable(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::F32: fn(static_cast<float*>(nullptr)); return;
    case DType::F64: fn(static_cast<double*>(nullptr)); return;
    case DType::BF16: fn(static_cast<BFloat16*>(nullptr)); return;
    case DType::I32: fn(static_cast<int32_t*>(nullptr)); return;
    case DType::I64: fn(static_cast<int64_t*>(nullptr)); return;
    case DType::U8: fn(static_cast<uint8_t*>(nullptr)); return;
    default: break;
  }
  NABLA_CHECK_DTYPE(false, op, ": not implemented for ", t);
}

// (value, index) of the max/min of all elements; the value is 0-d.
std::pair<Tensor, int64_t> extreme_all(const Tensor& a, bool is_min, const char* op) {
  check_defined(op, a, "input");
  NABLA_CHECK_SHAPE(a.numel() > 0, op, "(): Expected reduction dim to be specified for "
                    "input.numel() == 0. Specify the reduction dim with the 'dim' argument.");
  const Tensor src = dense(a);
  Tensor out = Tensor::empty({}, a.dtype());
  int64_t index = 0;
  dispatch_orderable(a.dtype(), op, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    kernels::cpu::max_forward(out.data<T>(), &index, src.data<T>(), 1, a.numel(), 1, is_min);
  });
  return {out, index};
}

Tensor extreme_all_op(const Tensor& a, bool is_min, const char* op) {
  Tensor out = extreme_all(a, is_min, op).first;
  if (!is_floating(a.dtype())) return out;
  const Tensor src = dense(a);
  const Tensor val = out.detach();
  // Like PyTorch, the gradient is split evenly between all elements equal to the extreme.
  return autograd::record(op, out, {a}, [src, val, op](const Tensor& dy, Grads& g) {
    Tensor dx = Tensor::empty(src.shape(), src.dtype());
    dispatch_floating(src.dtype(), op, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      using C = compute_t<T>;
      const T* x = src.data<T>();
      const C v = static_cast<C>(val.data<T>()[0]);
      const int64_t n = src.numel();
      int64_t count = 0;
      for (int64_t i = 0; i < n; ++i) count += static_cast<C>(x[i]) == v;
      const C share = static_cast<C>(dy.data<T>()[0]) / static_cast<C>(std::max<int64_t>(count, 1));
      T* d = dx.data<T>();
      for (int64_t i = 0; i < n; ++i) d[i] = static_cast<T>(static_cast<C>(x[i]) == v ? share : C(0));
    });
    g.add(0, dx);
  });
}

// Values and first indices of the max/min along dim.
std::pair<Tensor, Tensor> extreme_dim(const Tensor& a, int64_t dim, bool keepdim, bool is_min,
                                      bool want_values, const char* op) {
  check_defined(op, a, "input");
  const Plan p = make_plan(a, reduced_mask(a, {dim}, op), keepdim);
  NABLA_CHECK_SHAPE(p.R > 0 || p.outer * p.inner == 0, op, "(): Expected reduction dim ", dim,
                    " to have non-zero size.");
  Tensor values = want_values ? Tensor::empty(p.out_shape, a.dtype()) : Tensor();
  Tensor indices = Tensor::empty(p.out_shape, kInt64);
  dispatch_orderable(a.dtype(), op, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if (p.outer * p.inner == 0) return;
    kernels::cpu::max_forward(want_values ? values.data<T>() : nullptr, indices.data<int64_t>(),
                              p.src.data<T>(), p.outer, p.R, p.inner, is_min);
  });
  if (!want_values || !is_floating(a.dtype())) return {values, indices};
  Plan bp = p;
  bp.src = Tensor();
  values = autograd::record(op, values, {a}, [bp, indices, op](const Tensor& dy, Grads& g) {
    Tensor dx = zeros_like_src(bp, dy.dtype());
    dispatch_floating(dx.dtype(), op, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      kernels::cpu::index_backward(dx.data<T>(), dy.data<T>(), indices.data<int64_t>(), bp.outer,
                                   bp.R, bp.inner);
    });
    g.add(0, from_src_layout(bp, dx));
  });
  return {values, indices};
}

}  // namespace

Tensor max(const Tensor& a) { return extreme_all_op(a, false, "max"); }
Tensor min(const Tensor& a) { return extreme_all_op(a, true, "min"); }
std::pair<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim) {
  return extreme_dim(a, dim, keepdim, false, true, "max");
}
std::pair<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim) {
  return extreme_dim(a, dim, keepdim, true, true, "min");
}
Tensor argmax(const Tensor& a) {
  Tensor out = Tensor::empty({}, kInt64);
  out.data<int64_t>()[0] = extreme_all(a, false, "argmax").second;
  return out;
}
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim) {
  return extreme_dim(a, dim, keepdim, false, false, "argmax").second;
}
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim) {
  return extreme_dim(a, dim, keepdim, true, false, "argmin").second;
}

// ---- softmax family --------------------------------------------------------------------------

namespace {

Tensor softmax_impl(const Tensor& a, int64_t dim, bool log, const char* op) {
  check_defined(op, a, "input");
  const Plan p = make_plan(a, reduced_mask(a, {dim}, op), true);
  Tensor y = Tensor::empty(a.shape(), a.dtype());
  dispatch_floating(a.dtype(), op, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    kernels::cpu::softmax_forward(y.data<T>(), p.src.data<T>(), p.outer, p.R, p.inner, log);
  });
  const Tensor yd = y.detach();
  const int64_t outer = p.outer, R = p.R, inner = p.inner;
  return autograd::record(op, y, {a}, [yd, outer, R, inner, log, op](const Tensor& dy, Grads& g) {
    dispatch_floating(yd.dtype(), op, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      kernels::cpu::softmax_backward(g.ptr<T>(0), dy.data<T>(), yd.data<T>(), outer, R, inner, log);
    });
  });
}

}  // namespace

Tensor softmax(const Tensor& a, int64_t dim) { return softmax_impl(a, dim, false, "softmax"); }
Tensor log_softmax(const Tensor& a, int64_t dim) {
  return softmax_impl(a, dim, true, "log_softmax");
}

Tensor logsumexp(const Tensor& a, int64_t dim, bool keepdim) {
  check_defined("logsumexp", a, "input");
  const Plan p = make_plan(a, reduced_mask(a, {dim}, "logsumexp"), keepdim);
  Tensor out = Tensor::empty(p.out_shape, a.dtype());
  dispatch_floating(a.dtype(), "logsumexp", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    kernels::cpu::logsumexp_forward(out.data<T>(), p.src.data<T>(), p.outer, p.R, p.inner);
  });
  const Tensor od = out.detach();
  return autograd::record("logsumexp", out, {a}, [p, od](const Tensor& dy, Grads& g) {
    Tensor dx = zeros_like_src(p, dy.dtype());
    dispatch_floating(dx.dtype(), "logsumexp", [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      kernels::cpu::logsumexp_backward(dx.data<T>(), dy.data<T>(), p.src.data<T>(), od.data<T>(),
                                       p.outer, p.R, p.inner);
    });
    g.add(0, from_src_layout(p, dx));
  });
}

// ---- norms -----------------------------------------------------------------------------------

Tensor norm(const Tensor& a, double p) { return norm(a, p, {}, false); }

Tensor norm(const Tensor& a, double p, const Shape& dims, bool keepdim) {
  check_defined("norm", a, "input");
  NABLA_CHECK(p > 0, "norm: only p > 0 (1, 2, inf, ...) is supported, got p = ", p);
  const Plan pl = make_plan(a, reduced_mask(a, dims, "norm"), keepdim);
  Tensor out = Tensor::empty(pl.out_shape, a.dtype());
  dispatch_floating(a.dtype(), "norm", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    kernels::cpu::norm_forward(out.data<T>(), pl.src.data<T>(), pl.outer, pl.R, pl.inner, p);
  });
  const Tensor od = out.detach();
  return autograd::record("norm", out, {a}, [pl, od, p](const Tensor& dy, Grads& g) {
    Tensor dx = zeros_like_src(pl, dy.dtype());
    dispatch_floating(dx.dtype(), "norm", [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      kernels::cpu::norm_backward(dx.data<T>(), dy.data<T>(), pl.src.data<T>(), od.data<T>(),
                                  pl.outer, pl.R, pl.inner, p);
    });
    g.add(0, from_src_layout(pl, dx));
  });
}

// ---- Tensor methods --------------------------------------------------------------------------

Tensor Tensor::sum() const { return nabla::sum(*this); }
Tensor Tensor::sum(const Shape& dims, bool keepdim) const { return nabla::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return nabla::mean(*this); }
Tensor Tensor::mean(const Shape& dims, bool keepdim) const {
  return nabla::mean(*this, dims, keepdim);
}
Tensor Tensor::var(const Shape& dims, int64_t correction, bool keepdim) const {
  return nabla::var(*this, dims, correction, keepdim);
}
Tensor Tensor::var() const { return nabla::var(*this, {}, 1, false); }
Tensor Tensor::max() const { return nabla::max(*this); }
Tensor Tensor::min() const { return nabla::min(*this); }
std::pair<Tensor, Tensor> Tensor::max(int64_t dim, bool keepdim) const {
  return nabla::max(*this, dim, keepdim);
}
std::pair<Tensor, Tensor> Tensor::min(int64_t dim, bool keepdim) const {
  return nabla::min(*this, dim, keepdim);
}
Tensor Tensor::argmax() const { return nabla::argmax(*this); }
Tensor Tensor::argmax(int64_t dim, bool keepdim) const { return nabla::argmax(*this, dim, keepdim); }
Tensor Tensor::argmin(int64_t dim, bool keepdim) const { return nabla::argmin(*this, dim, keepdim); }
Tensor Tensor::softmax(int64_t dim) const { return nabla::softmax(*this, dim); }
Tensor Tensor::log_softmax(int64_t dim) const { return nabla::log_softmax(*this, dim); }
Tensor Tensor::logsumexp(int64_t dim, bool keepdim) const {
  return nabla::logsumexp(*this, dim, keepdim);
}
Tensor Tensor::norm(double p) const { return nabla::norm(*this, p); }
Tensor Tensor::norm(double p, const Shape& dims, bool keepdim) const {
  return nabla::norm(*this, p, dims, keepdim);
}

}  // namespace nabla
