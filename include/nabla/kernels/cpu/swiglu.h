// SwiGLU's gate (Shazeer 2020, LLaMA's feed-forward): silu(a) * b in one pass, and its backward.
#pragma once

#include <cstdint>

#include "nabla/core/dispatch.h"

namespace nabla::kernels::cpu {

/// out[i] = a[i] * sigmoid(a[i]) * b[i] for n contiguous elements.
template <typename T>
void swiglu_forward(T* out, const T* a, const T* b, int64_t n);

/// da[i] = dy b s (1 + a (1 - s)), db[i] = dy a s with s = sigmoid(a[i]); either output may
/// be null (not needed). Written, not accumulated.
template <typename T>
void swiglu_backward(T* da, T* db, const T* dy, const T* a, const T* b, int64_t n);

}  // namespace nabla::kernels::cpu
