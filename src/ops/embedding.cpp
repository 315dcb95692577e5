// embedding: a row gather from the weight, with a deterministic scatter-add backward.
#include "nabla/autograd/node.h"
#include "nabla/core/dispatch.h"
#include "nabla/kernels/cpu/embedding.h"
#include "nabla/ops/nn_functional.h"
#include "ops/nn_internal.h"

namespace nabla {

// out = weight[indices]; indices: any shape, int64 or int32; weight: (V, C) -> (*indices, C).
Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx) {
  check_defined("embedding", weight, "weight");
  NABLA_CHECK_SHAPE(weight.dim() == 2, "embedding: expected weight of shape (num_embeddings, ",
                    "embedding_dim), got ", weight.describe());
  const Tensor idx = nn_detail::int64_indices("embedding", indices, "indices");
  const int64_t V = weight.size(0), C = weight.size(1), N = idx.numel();
  const int64_t* ip = idx.data<int64_t>();
  for (int64_t n = 0; n < N; ++n) {
    NABLA_CHECK_SHAPE(ip[n] >= 0 && ip[n] < V, "embedding: index ", ip[n],
                      " is out of range for vocab size ", V, " (position ", n, " of indices ",
                      indices.shape(), ")");
  }
  int64_t pad = -1;
  if (padding_idx) {
    NABLA_CHECK_SHAPE(*padding_idx >= -V && *padding_idx < V, "embedding: padding_idx ",
                      *padding_idx, " is out of range for vocab size ", V);
    pad = *padding_idx < 0 ? *padding_idx + V : *padding_idx;
  }
  Shape out_shape = indices.shape();
  out_shape.push_back(C);
  const Tensor wd = nn_detail::dense(weight);
  return dispatch_floating(weight.dtype(), "embedding", [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    Tensor out = Tensor::empty(out_shape, weight.dtype());
    kernels::cpu::embedding_forward<T>(out.data<T>(), ip, wd.data<T>(), N, C);
    return autograd::record(
        "embedding", out, {weight}, [idx, N, V, C, pad](const Tensor& dy, autograd::Grads& g) {
          if (!g.needs(0)) return;
          kernels::cpu::embedding_backward<T>(g.ptr<T>(0), dy.data<T>(), idx.data<int64_t>(), N,
                                              V, C, pad);
        });
  });
}

}  // namespace nabla
