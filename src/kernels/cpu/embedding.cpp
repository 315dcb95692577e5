// Embedding forward (row gather) and backward (deterministic scatter-add, see the header).
#include "nabla/kernels/cpu/embedding.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "nabla/core/dispatch.h"

namespace nabla::kernels::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;  // elements below which threads cost more than they save
}  // namespace

template <typename T>
void embedding_forward(T* out, const int64_t* idx, const T* weight, int64_t N, int64_t C) {
#pragma omp parallel for if (N * C > kParallelMin) schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    std::memcpy(out + n * C, weight + idx[n] * C, static_cast<size_t>(C) * sizeof(T));
  }
}

template <typename T>
void embedding_backward(T* dweight, const T* dout, const int64_t* idx, int64_t N, int64_t V,
                        int64_t C, int64_t padding_idx) {
  using CT = compute_t<T>;
  // Counting sort of positions by row: the positions of row v are order[first[v] .. first[v+1])
  // in increasing position order; rows lists the distinct rows that receive gradient.
  std::vector<int64_t> first_buf(static_cast<size_t>(V) + 1, 0), order_buf(static_cast<size_t>(N));
  int64_t* first = first_buf.data();
  int64_t* order = order_buf.data();
  for (int64_t n = 0; n < N; ++n) ++first[idx[n] + 1];
  std::vector<int64_t> rows;
  for (int64_t v = 0; v < V; ++v) {
    if (first[v + 1] > 0 && v != padding_idx) rows.push_back(v);
    first[v + 1] += first[v];
  }
  std::vector<int64_t> next(first_buf.begin(), first_buf.end() - 1);
  for (int64_t n = 0; n < N; ++n) order[next[static_cast<size_t>(idx[n])]++] = n;

  const auto R = static_cast<int64_t>(rows.size());
#pragma omp parallel if (N * C > kParallelMin)
  {
    std::vector<CT> acc_buf(static_cast<size_t>(C));
    CT* acc = acc_buf.data();
#pragma omp for schedule(static)
    for (int64_t k = 0; k < R; ++k) {
      const int64_t v = rows[static_cast<size_t>(k)];
      std::fill(acc, acc + C, CT(0));
      for (int64_t j = first[v]; j < first[v + 1]; ++j) {
        const T* g = dout + order[j] * C;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) acc[c] += static_cast<CT>(g[c]);
      }
      T* dw = dweight + v * C;
      for (int64_t c = 0; c < C; ++c) dw[c] = static_cast<T>(static_cast<CT>(dw[c]) + acc[c]);
    }
  }
}

#define NABLA_INSTANTIATE(T)                                                                   \
  template void embedding_forward<T>(T*, const int64_t*, const T*, int64_t, int64_t);           \
  template void embedding_backward<T>(T*, const T*, const int64_t*, int64_t, int64_t, int64_t, \
                                      int64_t);
NABLA_INSTANTIATE(float)
NABLA_INSTANTIATE(double)
NABLA_INSTANTIATE(BFloat16)
#undef NABLA_INSTANTIATE

}  // namespace nabla::kernels::cpu
