// Autocast: the dtype that linear layers multiply in (torch.autocast). Thread-local, like grad
// mode.
#pragma once

#include "nabla/core/dtype.h"

namespace nabla {

namespace autograd {
/// The dtype that linear() multiplies f32 inputs in on this thread: kFloat32 (off, the
/// default) or kBFloat16 (bf16 operands, f32 accumulation, f32 output).
DType autocast_dtype();
/// Throws nabla::Error for any dtype but kFloat32 and kBFloat16.
void set_autocast_dtype(DType dtype);
}  // namespace autograd

/// RAII: linear layers multiply in `dtype` while it lives (torch.autocast("cpu",
/// dtype=torch.bfloat16)). Unlike torch, outputs stay f32: the products are rounded to bf16
/// on the way in and accumulated and returned in f32, so everything around the multiplies
/// (norms, softmax, losses, the optimizer) runs in f32 on f32 master weights.
class AutocastGuard {
 public:
  explicit AutocastGuard(DType dtype = kBFloat16) : prev_(autograd::autocast_dtype()) {
    autograd::set_autocast_dtype(dtype);
  }
  ~AutocastGuard() { autograd::set_autocast_dtype(prev_); }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  DType prev_;
};

}  // namespace nabla
