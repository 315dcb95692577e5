// matmul (torch.matmul semantics) and linear (x W^T + b). Operands go to the GEMM kernel in
// their own layout: a transposed view is a layout flag, leading dims of x fold into GEMM rows,
// and broadcast batch dims become a zero batch stride. A copy is made only for layouts BLAS
// cannot describe (neither dim of unit stride, overlapping rows).
#include <algorithm>

#include "nabla/autograd/autocast.h"
#include "nabla/autograd/node.h"
#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/gemm.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/reduce.h"
#include "ops/internal.h"
#include "ops/strided.h"

namespace nabla {

using autograd::Grads;
using kernels::cpu::GemmLayout;
using ops_detail::dense;
using ops_detail::raw_view;

namespace {

// How a rows x cols matrix with element strides (sr, sc) is handed to GEMM.
struct MatLayout {
  bool ok = false;
  bool trans = false;  // stored column-major: the GEMM sees the (cols, rows) row-major matrix
  int64_t ld = 0;
};

MatLayout mat_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc) {
  if (sc == 1 || cols == 1) {
    const int64_t ld = rows == 1 ? std::max<int64_t>(cols, 1) : sr;
    if (ld >= std::max<int64_t>(cols, 1)) return {true, false, ld};
  }
  if (sr == 1 || rows == 1) {
    const int64_t ld = cols == 1 ? std::max<int64_t>(rows, 1) : sc;
    if (ld >= std::max<int64_t>(rows, 1)) return {true, true, ld};
  }
  return {};
}

MatLayout mat_layout(const Tensor& t) {
  return mat_layout(t.size(-2), t.size(-1), t.stride(-2), t.stride(-1));
}

// The last two dims swapped, as a raw view.
Tensor raw_mT(const Tensor& t) {
  Shape sizes = t.shape(), strides = t.strides();
  std::swap(sizes[sizes.size() - 1], sizes[sizes.size() - 2]);
  std::swap(strides[strides.size() - 1], strides[strides.size() - 2]);
  return raw_view(t, sizes, strides);
}

// When dims [0, n) of t can be walked with one stride (offset(i) = i * stride for the flat
// index i), that stride; size-1 dims are skipped. Returns false otherwise.
bool single_stride(const Shape& sizes, const Shape& strides, size_t n, int64_t* stride) {
  int64_t expected = -1, span = 1;
  for (size_t k = n; k-- > 0;) {
    if (sizes[k] == 1) continue;
    if (expected < 0) expected = strides[k];
    if (strides[k] != expected * span) return false;
    span *= sizes[k];
  }
  *stride = expected < 0 ? 0 : expected;
  return true;
}

// t's batch strides broadcast to `batch` (0 where t has size 1 or lacks the dim).
Shape batch_strides(const Tensor& t, const Shape& batch) {
  const auto nb = static_cast<int64_t>(batch.size());
  const int64_t tb = t.dim() - 2;
  Shape s(batch.size(), 0);
  for (int64_t i = 0; i < tb; ++i) {
    if (t.shape()[i] != 1) s[nb - tb + i] = t.strides()[i];
  }
  return s;
}

const void* at(const Tensor& t, int64_t offset) {
  return static_cast<const char*>(t.raw_data()) + offset * static_cast<int64_t>(t.element_size());
}

// One GEMM call in t's dtype: C = op(A) op(B) (+ bias); bf16 in, bf16 out.
void run_gemm(DType dt, const GemmLayout& g, const void* A, const void* B, void* C,
              const void* bias) {
  namespace k = kernels::cpu;
  switch (dt) {
    case DType::F32:
      k::gemm(g, 1.0f, static_cast<const float*>(A), static_cast<const float*>(B), 0.0f,
              static_cast<float*>(C), static_cast<const float*>(bias));
      return;
    case DType::F64:
      k::gemm(g, 1.0, static_cast<const double*>(A), static_cast<const double*>(B), 0.0,
              static_cast<double*>(C), static_cast<const double*>(bias));
      return;
    case DType::BF16:
      k::gemm(g, 1.0f, static_cast<const BFloat16*>(A), static_cast<const BFloat16*>(B), 0.0f,
              static_cast<BFloat16*>(C), static_cast<const BFloat16*>(bias));
      return;
    default: NABLA_ASSERT(false, "run_gemm on ", dt);
  }
}

GemmLayout layout_of(int64_t M, int64_t N, int64_t K, const MatLayout& la, const MatLayout& lb) {
  GemmLayout g;
  g.M = M, g.N = N, g.K = K;
  g.trans_a = la.trans, g.lda = la.ld;
  g.trans_b = lb.trans, g.ldb = lb.ld;
  g.ldc = std::max<int64_t>(N, 1);
  return g;
}

// out (batch..., M, N), contiguous = a (..., M, K) @ b (..., K, N) with a's and b's batch dims
// broadcast to `batch`; bias (N) or undefined. No autograd.
Tensor bmm(Tensor a, Tensor b, const Shape& batch, const Tensor& bias = Tensor()) {
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = Tensor::empty(out_shape, a.dtype());
  if (out.numel() == 0) return out;
  MatLayout la = mat_layout(a), lb = mat_layout(b);
  if (!la.ok) a = dense(a), la = mat_layout(a);
  if (!lb.ok) b = dense(b), lb = mat_layout(b);
  const void* bias_ptr = bias.defined() ? bias.raw_data() : nullptr;
  // b shared by all of a's rows: fold a's leading dims into M (one GEMM, as for linear).
  int64_t row_stride = 0;
  if (b.dim() == 2 && !la.trans &&
      single_stride(a.shape(), a.strides(), a.shape().size() - 1, &row_stride)) {
    const int64_t rows = a.numel() / std::max<int64_t>(K, 1);
    la.ld = rows == 1 ? std::max<int64_t>(K, 1) : row_stride;
    if (K == 0 || la.ld >= K) {
      run_gemm(a.dtype(), layout_of(rows, N, K, la, lb), a.raw_data(), b.raw_data(),
               out.raw_data(), bias_ptr);
      return out;
    }
    la = mat_layout(a);
  }
  GemmLayout g = layout_of(M, N, K, la, lb);
  const Shape as = batch_strides(a, batch), bs = batch_strides(b, batch);
  const int64_t count = numel_of(batch);
  if (single_stride(batch, as, batch.size(), &g.stride_a) &&
      single_stride(batch, bs, batch.size(), &g.stride_b)) {
    g.batch = count;
    g.stride_c = M * N;
    run_gemm(a.dtype(), g, a.raw_data(), b.raw_data(), out.raw_data(), bias_ptr);
    return out;
  }
  for (int64_t i = 0; i < count; ++i) {  // batch dims that no single stride describes
    int64_t oa = 0, ob = 0;
    for (int64_t d = static_cast<int64_t>(batch.size()) - 1, rem = i; d >= 0; --d) {
      const int64_t idx = rem % batch[d];
      rem /= batch[d];
      oa += idx * as[d], ob += idx * bs[d];
    }
    run_gemm(a.dtype(), g, at(a, oa), at(b, ob), const_cast<void*>(at(out, i * M * N)), bias_ptr);
  }
  return out;
}

// g (batch..., r, c) summed over the batch dims that `target` (tb..., r, c) broadcast.
Tensor reduce_batch(const Tensor& g, const Shape& target) {
  const int64_t lead = g.dim() - static_cast<int64_t>(target.size());
  Shape dims;
  for (int64_t d = 0; d < g.dim() - 2; ++d) {
    if (d < lead || (target[d - lead] == 1 && g.shape()[d] != 1)) dims.push_back(d);
  }
  const Tensor s = dims.empty() ? g : sum(g, dims, true);
  return raw_view(s, target, contiguous_strides(target));
}

// a (..., r, c) with 1-D operands promoted: [n] -> [1, n] for the left, [n, 1] for the right.
Tensor promote(const Tensor& t, bool left) {
  if (t.dim() != 1) return t.detach();
  const int64_t n = t.size(0), s = t.stride(0);
  return left ? raw_view(t, {1, n}, {n * s, s}) : raw_view(t, {n, 1}, {s, 1});
}

void check_matmul_inputs(const Tensor& a, const Tensor& b) {
  check_defined("matmul", a, "self");
  check_defined("matmul", b, "other");
  NABLA_CHECK_SHAPE(a.dim() >= 1 && b.dim() >= 1, "matmul: both arguments need at least 1 "
                    "dimension, got ", a.dim(), "-D ", a.shape(), " and ", b.dim(), "-D ", b.shape());
  NABLA_CHECK_DTYPE(a.dtype() == b.dtype(), "matmul: expected both operands to have the same "
                    "dtype, got ", a.dtype(), " (self) and ", b.dtype(), " (other)");
  check_same_device("matmul", {{"self", a}, {"other", b}});
  dispatch_floating(a.dtype(), "matmul", [](auto*) {});
  const int64_t ka = a.size(-1), kb = b.size(b.dim() == 1 ? 0 : -2);
  NABLA_CHECK_SHAPE(ka == kb, "matmul: shapes ", a.shape(), " and ", b.shape(),
                    " cannot be multiplied (", ka, " != ", kb, ")");
}

Shape batch_of(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_matmul_inputs(a, b);
  const Tensor a2 = promote(a, true), b2 = promote(b, false);
  const Shape batch = broadcast_shapes(batch_of(a2), batch_of(b2), "matmul");
  Shape final_shape = batch;
  if (a.dim() > 1) final_shape.push_back(a2.size(-2));
  if (b.dim() > 1) final_shape.push_back(b2.size(-1));
  const Tensor full = bmm(a2, b2, batch);
  Tensor out = raw_view(full, final_shape, contiguous_strides(final_shape));
  const Shape full_shape = full.shape(), a_shape = a.shape(), b_shape = b.shape();
  return autograd::record("matmul", out, {a, b}, [=](const Tensor& dy, Grads& g) {
    const Tensor dyf = raw_view(dy, full_shape, contiguous_strides(full_shape));
    if (g.needs(0)) {  // da = dy b^T, summed over broadcast batch dims
      const Tensor da = reduce_batch(bmm(dyf, raw_mT(b2), batch), a2.shape());
      g.add(0, raw_view(da, a_shape, contiguous_strides(a_shape)));
    }
    if (g.needs(1)) {
      Tensor db;
      if (b2.dim() == 2 && a2.dim() > 2) {  // one GEMM over all of a's rows: a_flat^T dy_flat
        const int64_t k = a2.size(-1), n = b2.size(-1);
        const Tensor ad = dense(a2);
        const int64_t rows = ad.numel() / std::max<int64_t>(k, 1);
        db = bmm(raw_view(ad, {k, rows}, {1, k}), raw_view(dyf, {rows, n}, {n, 1}), {});
      } else {
        db = reduce_batch(bmm(raw_mT(a2), dyf, batch), b2.shape());
      }
      g.add(1, raw_view(db, b_shape, contiguous_strides(b_shape)));
    }
  });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_defined("linear", x, "input");
  check_defined("linear", weight, "weight");
  NABLA_CHECK_SHAPE(weight.dim() == 2, "linear: weight must be 2-D (out_features, in_features), "
                    "got ", weight.shape());
  NABLA_CHECK_SHAPE(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input ", x.shape(),
                    " and weight ", weight.shape(), " cannot be multiplied (", x.size(-1),
                    " != ", weight.size(1), ")");
  const int64_t in = weight.size(1), out_f = weight.size(0);
  if (bias.defined()) {
    check_same("linear", {{"input", x}, {"weight", weight}, {"bias", bias}});
    NABLA_CHECK_SHAPE(bias.dim() == 1 && bias.size(0) == out_f, "linear: bias ", bias.shape(),
                      " does not match weight ", weight.shape(), " (expected [", out_f, "])");
  } else {
    check_same("linear", {{"input", x}, {"weight", weight}});
  }
  dispatch_floating(x.dtype(), "linear", [](auto*) {});
  if (autograd::autocast_dtype() == DType::BF16 && x.dtype() == DType::F32) {
    return ops_detail::linear_bf16_autocast(x, weight, bias);
  }
  const Tensor x2 = promote(x, true);
  const Tensor wt = raw_mT(weight.detach());  // (in, out): W^T as a layout, no copy
  const Tensor bd = bias.defined() ? dense(bias) : Tensor();
  const Shape rows_batch = batch_of(x2);
  const Tensor full = bmm(x2, wt, rows_batch, bd);
  Shape out_shape = x.shape();
  out_shape.back() = out_f;
  Tensor out = raw_view(full, out_shape, contiguous_strides(out_shape));
  const Shape x_shape = x.shape();
  return autograd::record("linear", out, {x, weight, bias}, [=](const Tensor& dy, Grads& g) {
    const int64_t rows = dy.numel() / std::max<int64_t>(out_f, 1);
    const Tensor dyf = raw_view(dy, {rows, out_f}, {out_f, 1});
    if (g.needs(0)) {  // dx = dy W
      const Tensor dx = bmm(dyf, raw_mT(wt), {});
      g.add(0, raw_view(dx, x_shape, contiguous_strides(x_shape)));
    }
    if (g.needs(1)) {  // dW = dy^T x over all rows, one GEMM
      const Tensor xd = dense(x2);
      g.add(1, bmm(raw_mT(dyf), raw_view(xd, {rows, in}, {in, 1}), {}));
    }
    if (g.needs(2)) g.add(2, sum(dyf, {0}, false));  // db = sum over rows
  });
}

Tensor Tensor::matmul(const Tensor& other) const { return nabla::matmul(*this, other); }

}  // namespace nabla
