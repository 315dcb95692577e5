// Reductions over one axis of a contiguous buffer viewed as (outer, R, inner): the op layer
// brings any set of dims to this form. out is (outer, inner). Sums accumulate in double and
// split work in a fixed way (chunks of fixed size, combined in order), so results are bitwise
// the same for any thread count. T is float, double or BFloat16 unless said otherwise.
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

/// out[o, i] = scale * sum_r in[o, r, i].
template <typename T>
void sum_forward(T* out, const T* in, int64_t outer, int64_t R, int64_t inner, double scale = 1.0);
/// Integer sums (T = int32_t, int64_t, uint8_t, bool) give int64, like torch.sum.
template <typename T>
void sum_integer_forward(int64_t* out, const T* in, int64_t outer, int64_t R, int64_t inner);

/// out = sum_r (in - mean)^2 / max(R - correction, 0) (two passes); mean (outer, inner) too.
template <typename T>
void var_forward(T* out, T* mean, const T* in, int64_t outer, int64_t R, int64_t inner,
                 int64_t correction);
/// dx = dy * 2 (x - mean) / (R - correction); dy, mean: (outer, inner).
template <typename T>
void var_backward(T* dx, const T* dy, const T* x, const T* mean, int64_t outer, int64_t R,
                  int64_t inner, int64_t correction);

/// Max (or min) along R with the index of its first occurrence; NaN wins (torch.max).
/// values may be nullptr.
template <typename T>
void max_forward(T* values, int64_t* indices, const T* in, int64_t outer, int64_t R,
                 int64_t inner, bool is_min);
/// dx[o, index[o, i], i] += dy[o, i]: the backward of a max/min along R.
template <typename T>
void index_backward(T* dx, const T* dy, const int64_t* index, int64_t outer, int64_t R,
                    int64_t inner);

/// p-norm along R: p = 1, 2, inf, or any other p > 0 as (sum |x|^p)^(1/p).
template <typename T>
void norm_forward(T* out, const T* in, int64_t outer, int64_t R, int64_t inner, double p);
/// dx = dy * d norm / dx; for p = inf the gradient is split evenly among the tied maxima.
template <typename T>
void norm_backward(T* dx, const T* dy, const T* x, const T* norm, int64_t outer, int64_t R,
                   int64_t inner, double p);

}  // namespace nabla::kernels::cpu
