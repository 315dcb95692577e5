// The binary element-wise kernels for BFloat16, in their own file to build in parallel.
#include "kernels/cpu/elementwise_binary_impl.h"

namespace nabla::kernels::cpu::detail {

template void binary_as<BFloat16>(BinaryOp, const Geometry&, void*, const void*, const void*,
                                  const ElementwiseParams&);

}  // namespace nabla::kernels::cpu::detail
