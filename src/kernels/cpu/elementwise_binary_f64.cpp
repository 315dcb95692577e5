// The binary element-wise kernels for double, in their own file to build in parallel.
#include "kernels/cpu/elementwise_binary_impl.h"

namespace nabla::kernels::cpu::detail {

template void binary_as<double>(BinaryOp, const Geometry&, void*, const void*, const void*,
                                const ElementwiseParams&);

}  // namespace nabla::kernels::cpu::detail
