// Owned gradient buffers and accumulation, straight on kernels: autograd sits below ops.
#include "nabla/autograd/owned.h"

#include "nabla/kernels/cpu/copy.h"

namespace nabla::autograd {

Tensor owned_contiguous(const Tensor& t) {
  const bool sole = t.impl_ptr().use_count() == 1 && t.storage().use_count() == 1;
  if (sole && t.is_contiguous() && t.offset() == 0 && t.nbytes() == t.storage()->nbytes()) return t;
  Tensor c = Tensor::empty(t.shape(), t.dtype());
  kernels::cpu::copy_strided(c.raw_data(), t.raw_data(), t.element_size(), t.shape().data(),
                             t.strides().data(), t.dim());
  return c;
}

void accumulate_into(Tensor& acc, const Tensor& g) {
  NABLA_ASSERT(acc.shape() == g.shape() && acc.dtype() == g.dtype(), "accumulate ", g.describe(),
               " into ", acc.describe());
  acc = owned_contiguous(acc);
  Tensor src = g.is_contiguous() ? g : owned_contiguous(g);
  kernels::cpu::add_inplace(acc.raw_data(), src.raw_data(), acc.dtype(), acc.numel());
}

}  // namespace nabla::autograd
