// linear() under bf16 autocast: x W^T + b with x and W rounded to bf16, products accumulated
// and returned in f32. The backward multiplies in bf16 too (dy rounded once), as torch's
// autocast does, but keeps every gradient f32: dW lands on the f32 master weight as it is.
#include <algorithm>

#include "nabla/autograd/node.h"
#include "nabla/kernels/cpu/copy.h"
#include "nabla/kernels/cpu/gemm.h"
#include "nabla/ops/reduce.h"
#include "ops/internal.h"

namespace nabla::ops_detail {

namespace {

// (rows, cols) bf16 copy of t (any layout), outside the graph.
Tensor to_bf16_rows(const Tensor& t, int64_t rows, int64_t cols) {
  const Tensor d = t.is_contiguous() ? t : dense_copy(t);
  Tensor out = Tensor::empty({rows, cols}, kBFloat16);
  kernels::cpu::convert(out.raw_data(), DType::BF16, d.raw_data(), DType::F32, rows * cols);
  return out;
}

// C (M, N) f32 = op(A) op(B) with bf16 operands; beta 1 accumulates onto C's contents.
void gemm_bf16(int64_t M, int64_t N, int64_t K, const Tensor& a, bool trans_a, int64_t lda,
               const Tensor& b, bool trans_b, int64_t ldb, float beta, Tensor& c) {
  kernels::cpu::GemmLayout g;
  g.M = M, g.N = N, g.K = K;
  g.trans_a = trans_a, g.lda = std::max<int64_t>(lda, 1);
  g.trans_b = trans_b, g.ldb = std::max<int64_t>(ldb, 1);
  g.ldc = std::max<int64_t>(N, 1);
  kernels::cpu::gemm(g, 1.0f, a.data<BFloat16>(), b.data<BFloat16>(), beta, c.data<float>());
}

}  // namespace

Tensor linear_bf16_autocast(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const int64_t in = weight.size(1), out_f = weight.size(0);
  int64_t rows = 1;  // x's leading dims folded (x.numel() / in fails for in == 0)
  for (int64_t d = 0; d + 1 < x.dim(); ++d) rows *= x.size(d);
  const Tensor x16 = to_bf16_rows(x.detach(), rows, in);
  const Tensor w16 = to_bf16_rows(weight.detach(), out_f, in);
  Tensor y = Tensor::empty({rows, out_f}, kFloat32);
  float beta = 0.0f;
  if (bias.defined() && y.numel() > 0) {  // y starts as the bias (kept f32), the GEMM adds on
    const Tensor b = bias.detach().contiguous();
    const float* bp = b.data<float>();
    float* yp = y.data<float>();
#pragma omp parallel for if (rows * out_f > (1 << 16)) schedule(static)
    for (int64_t r = 0; r < rows; ++r) std::copy(bp, bp + out_f, yp + r * out_f);
    beta = 1.0f;
  }
  if (y.numel() > 0) {
    if (in == 0) {
      if (beta == 0.0f) kernels::cpu::fill(y.raw_data(), DType::F32, 0.0, y.numel());
    } else {
      gemm_bf16(rows, out_f, in, x16, false, in, w16, true, in, beta, y);
    }
  }
  Shape out_shape = x.shape();
  out_shape.back() = out_f;
  const Tensor out = y.view(out_shape);
  const Shape x_shape = x.shape();
  return autograd::record("linear", out, {x, weight, bias}, [=](const Tensor& dy, autograd::Grads& g) {
    const Tensor dy16 = to_bf16_rows(dy, rows, out_f);
    if (g.needs(0)) {  // dx = dy W
      Tensor dx = Tensor::empty({rows, in}, kFloat32);
      if (out_f == 0) kernels::cpu::fill(dx.raw_data(), DType::F32, 0.0, dx.numel());
      else if (dx.numel() > 0) gemm_bf16(rows, in, out_f, dy16, false, out_f, w16, false, in, 0, dx);
      g.add(0, dx.view(x_shape));
    }
    if (g.needs(1)) {  // dW = dy^T x over all rows, one GEMM
      Tensor dw = Tensor::empty({out_f, in}, kFloat32);
      if (rows == 0) kernels::cpu::fill(dw.raw_data(), DType::F32, 0.0, dw.numel());
      else if (dw.numel() > 0) gemm_bf16(out_f, in, rows, dy16, true, out_f, x16, false, in, 0, dw);
      g.add(1, dw);
    }
    if (g.needs(2)) g.add(2, sum(dy.reshape({rows, out_f}), {0}, false));  // db, in f32
  });
}

}  // namespace nabla::ops_detail
