// sum_to: sums a broadcast gradient back to an operand's shape. After coalescing, the dims
// split into kept ones (the output's) and reduced ones. Threads own disjoint output elements
// and every element is summed in row-major order of the reduced dims, in a double (or int64)
// accumulator, so the result does not depend on the thread count.
#include <omp.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/cpu/elementwise_loop.h"
#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/elementwise.h"

namespace nabla::kernels::cpu {

namespace {

// A subset of the iteration dims with the input's strides.
struct Dims {
  int64_t n = 0;
  std::array<int64_t, kMaxDims> size{};
  std::array<int64_t, kMaxDims> stride{};
  int64_t numel() const {
    int64_t r = 1;
    for (int64_t i = 0; i < n; ++i) r *= size[i];
    return r;
  }
  // Input offset of the flat (row-major) index `flat` over dims [0, upto).
  int64_t offset(int64_t flat, int64_t upto) const {
    int64_t off = 0;
    for (int64_t i = upto - 1; i >= 0; --i) {
      off += (flat % size[i]) * stride[i];
      flat /= size[i];
    }
    return off;
  }
};

template <typename T>
using acc_t = std::conditional_t<std::is_floating_point_v<compute_t<T>>, double, int64_t>;

// Calls fn(begin, end) over [0, n) split into one chunk per thread when work is large.
template <typename Fn>
void split(int64_t n, int64_t work, const Fn& fn) {
  if (work < detail::kParallelThreshold || omp_get_max_threads() == 1 || omp_in_parallel()) {
    fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads();
    const int64_t chunk = (n + nt - 1) / nt;
    const int64_t begin = std::min(n, omp_get_thread_num() * chunk);
    const int64_t end = std::min(n, begin + chunk);
    if (begin < end) fn(begin, end);
  }
}

// The last dim is reduced: each output element sums its own rows.
template <typename T>
void sum_inner(T* out, const T* in, const Dims& kept, const Dims& red, int64_t total) {
  const int64_t rn = red.size[red.n - 1];
  const int64_t rs = red.stride[red.n - 1];
  const int64_t rows = red.numel() / rn;
  split(kept.numel(), total, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      const T* base = in + kept.offset(k, kept.n);
      acc_t<T> acc = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const T* p = base + red.offset(r, red.n - 1);
        for (int64_t i = 0; i < rn; ++i) acc += static_cast<acc_t<T>>(p[i * rs]);
      }
      out[k] = static_cast<T>(static_cast<compute_t<T>>(acc));
    }
  });
}

// The last dim is kept: rows of the input are added into a block of output accumulators.
template <typename T>
void sum_rows(T* out, const T* in, const Dims& kept, const Dims& red, int64_t total) {
  const int64_t kn = kept.size[kept.n - 1];
  const int64_t ks = kept.stride[kept.n - 1];
  const int64_t rows = red.numel();
  split(kept.numel(), total, [&](int64_t k0, int64_t k1) {
    std::vector<acc_t<T>> acc(static_cast<size_t>(k1 - k0), 0);
    for (int64_t r = 0; r < rows; ++r) {
      const T* rbase = in + red.offset(r, red.n);
      for (int64_t k = k0; k < k1;) {
        const int64_t seg = std::min(kn - k % kn, k1 - k);
        const T* p = rbase + kept.offset(k / kn, kept.n - 1) + (k % kn) * ks;
        acc_t<T>* a = acc.data() + (k - k0);
        if (ks == 1) {
#pragma omp simd
          for (int64_t i = 0; i < seg; ++i) a[i] += static_cast<acc_t<T>>(p[i]);
        } else {
          for (int64_t i = 0; i < seg; ++i) a[i] += static_cast<acc_t<T>>(p[i * ks]);
        }
        k += seg;
      }
    }
    for (int64_t k = k0; k < k1; ++k) {
      out[k] = static_cast<T>(static_cast<compute_t<T>>(acc[static_cast<size_t>(k - k0)]));
    }
  });
}

}  // namespace

void sum_to(DType dtype, const Geometry& geometry, void* out, const void* in) {
  const Geometry g = detail::coalesce(geometry, 2);
  const int64_t total = detail::numel(g);
  Dims kept;
  Dims red;
  for (int64_t d = 0; d < g.ndim; ++d) {
    Dims& dst = g.strides[0][d] == 0 && g.sizes[d] != 1 ? red : kept;
    dst.size[dst.n] = g.sizes[d];
    dst.stride[dst.n] = g.strides[1][d];
    ++dst.n;
  }
  dispatch_dtype(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    if constexpr (std::is_same_v<T, bool>) {
      NABLA_ASSERT(false, "sum_to on bool");
    } else {
      auto* o = static_cast<T*>(out);
      const auto* i = static_cast<const T*>(in);
      if (red.n == 0) {
        detail::map1<T, T>(geometry, out, in, [](compute_t<T> x) { return x; });
      } else if (total == 0) {
        std::fill(o, o + kept.numel(), T(0));
      } else if (kept.n == 0 || g.strides[0][g.ndim - 1] == 0) {
        sum_inner(o, i, kept, red, total);
      } else {
        sum_rows(o, i, kept, red, total);
      }
    }
  });
}

}  // namespace nabla::kernels::cpu
