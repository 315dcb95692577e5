// Thread-local autocast dtype.
#include "nabla/autograd/autocast.h"

#include "nabla/core/error.h"

namespace nabla::autograd {

namespace {
thread_local DType autocast = DType::F32;
}

DType autocast_dtype() { return autocast; }

void set_autocast_dtype(DType dtype) {
  NABLA_CHECK_DTYPE(dtype == DType::F32 || dtype == DType::BF16,
                    "autocast: supported dtypes are float32 (off) and bfloat16, got ", dtype);
  autocast = dtype;
}

}  // namespace nabla::autograd
