// Binary element-wise kernels (arithmetic, comparisons, the unary ops' backward formulas) and
// where. The kernels themselves are templates in elementwise_binary_impl.h.
#include <type_traits>

#include "kernels/cpu/elementwise_binary_impl.h"

namespace nabla::kernels::cpu {

void binary(BinaryOp op, DType dtype, const Geometry& g, void* out, const void* a, const void* b,
            const ElementwiseParams& p) {
  dispatch_dtype(dtype, [&](auto* tag) {
    detail::binary_as<std::remove_pointer_t<decltype(tag)>>(op, g, out, a, b, p);
  });
}

void where(DType dtype, const Geometry& g, void* out, const bool* cond, const void* a,
           const void* b, double a_scalar, double b_scalar) {
  dispatch_dtype(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto* o = static_cast<T*>(out);
    const auto* pa = static_cast<const T*>(a);
    const auto* pb = static_cast<const T*>(b);
    // A scalar branch is converted to T once: where's result has T's precision anyway.
    const T sa = static_cast<T>(static_cast<compute_t<T>>(a_scalar));
    const T sb = static_cast<T>(static_cast<compute_t<T>>(b_scalar));
    detail::for_each_row<4>(g, [&](const detail::Offsets<4>& off, const detail::Offsets<4>& st,
                                   int64_t n) {
      T* orow = o + off[0];
      const bool* c = cond + off[1];
      const T* ar = pa != nullptr ? pa + off[2] : &sa;
      const T* br = pb != nullptr ? pb + off[3] : &sb;
      const int64_t sta = pa != nullptr ? st[2] : 0;
      const int64_t stb = pb != nullptr ? st[3] : 0;
      for (int64_t i = 0; i < n; ++i) {
        orow[i * st[0]] = c[i * st[1]] ? ar[i * sta] : br[i * stb];
      }
    });
  });
}

}  // namespace nabla::kernels::cpu
