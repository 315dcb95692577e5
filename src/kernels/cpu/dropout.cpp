// Dropout forward/backward. Counter c = offset + i draws word c % 4 of philox4x32(seed, c / 4):
// one Philox call serves four consecutive elements, and element i still depends only on
// (seed, offset + i).
#include "nabla/kernels/cpu/dropout.h"

#include "nabla/core/dispatch.h"
#include "nabla/core/rng.h"

namespace nabla::kernels::cpu {

namespace {

constexpr int64_t kParallelMin = 1 << 15;

// Calls fn(i, keep) for i in [0, n), walking Philox blocks of four counters.
template <typename Fn>
void for_each_keep(int64_t n, double p, uint64_t seed, uint64_t offset, Fn&& fn) {
  if (n <= 0) return;
  const auto pf = static_cast<float>(p);
  const uint64_t first_block = offset / 4, last_block = (offset + static_cast<uint64_t>(n) - 1) / 4;
  const auto blocks = static_cast<int64_t>(last_block - first_block + 1);
#pragma omp parallel for if (n > kParallelMin) schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const uint64_t block = first_block + static_cast<uint64_t>(b);
    const std::array<uint32_t, 4> r = philox4x32(seed, block);
    for (uint64_t w = 0; w < 4; ++w) {
      const uint64_t c = block * 4 + w;
      if (c < offset || c >= offset + static_cast<uint64_t>(n)) continue;
      fn(static_cast<int64_t>(c - offset), uniform01(r[w]) >= pf);
    }
  }
}

}  // namespace

bool dropout_keep(uint64_t seed, uint64_t offset, int64_t i, double p) {
  const uint64_t c = offset + static_cast<uint64_t>(i);
  return uniform01(philox4x32(seed, c / 4)[c % 4]) >= static_cast<float>(p);
}

template <typename T>
void dropout_forward(T* out, const T* x, int64_t n, double p, uint64_t seed, uint64_t offset) {
  using CT = compute_t<T>;
  const auto scale = static_cast<CT>(1.0 / (1.0 - p));
  for_each_keep(n, p, seed, offset, [&](int64_t i, bool keep) {
    out[i] = keep ? static_cast<T>(static_cast<CT>(x[i]) * scale) : T(0);
  });
}

template <typename T>
void dropout_backward(T* dx, const T* dout, int64_t n, double p, uint64_t seed, uint64_t offset) {
  using CT = compute_t<T>;
  const auto scale = static_cast<CT>(1.0 / (1.0 - p));
  for_each_keep(n, p, seed, offset, [&](int64_t i, bool keep) {
    if (keep) dx[i] = static_cast<T>(static_cast<CT>(dx[i]) + static_cast<CT>(dout[i]) * scale);
  });
}

#define NABLA_INSTANTIATE(T)                                                                  \
  template void dropout_forward<T>(T*, const T*, int64_t, double, uint64_t, uint64_t);        \
  template void dropout_backward<T>(T*, const T*, int64_t, double, uint64_t, uint64_t);
NABLA_INSTANTIATE(float)
NABLA_INSTANTIATE(double)
NABLA_INSTANTIATE(BFloat16)
#undef NABLA_INSTANTIATE

}  // namespace nabla::kernels::cpu
