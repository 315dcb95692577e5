// Dropout with a counter-based mask: element i is kept when the Philox draw for counter
// (offset + i) under key seed is >= p, so forward and backward regenerate the same mask
// without storing it, and the mask does not depend on how threads split the work.
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

/// Whether element i of a dropout with (seed, offset) is kept, for tests and debugging.
bool dropout_keep(uint64_t seed, uint64_t offset, int64_t i, double p);

/// out (n) = keep(i) ? x (n) / (1 - p) : 0, for 0 <= p < 1.
template <typename T>
void dropout_forward(T* out, const T* x, int64_t n, double p, uint64_t seed, uint64_t offset);

/// dx (n) += keep(i) ? dout (n) / (1 - p) : 0.
template <typename T>
void dropout_backward(T* dx, const T* dout, int64_t n, double p, uint64_t seed, uint64_t offset);

}  // namespace nabla::kernels::cpu
