// nn::Embedding: N(0, 1) init with an optional zeroed padding row (torch/nn/modules/sparse.py).
#include "nabla/nn/embedding.h"

#include "nabla/autograd/grad_mode.h"
#include "nabla/nn/init.h"
#include "nabla/ops/creation.h"
#include "nabla/ops/nn_functional.h"

namespace nabla::nn {

Embedding::Embedding(int64_t num, int64_t dim, std::optional<int64_t> pad)
    : num_embeddings(num), embedding_dim(dim) {
  NABLA_CHECK_SHAPE(num >= 0 && dim >= 0, "Embedding: sizes must be >= 0, got ", num, " and ", dim);
  if (pad) {
    NABLA_CHECK_SHAPE(*pad >= -num && *pad < num, "Embedding: padding_idx ", *pad,
                      " must be within num_embeddings ", num);
    padding_idx = *pad < 0 ? *pad + num : *pad;
  }
  weight = register_parameter("weight", empty({num, dim}));
  init::normal_(weight);
  if (padding_idx) {
    NoGradGuard no_grad;
    weight.select(0, *padding_idx).zero_();
  }
}

Tensor Embedding::forward(const Tensor& indices) {
  return embedding(indices, weight, padding_idx);
}

std::string Embedding::extra_repr() const {
  std::string s = std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim);
  if (padding_idx) s += ", padding_idx=" + std::to_string(*padding_idx);
  return s;
}

}  // namespace nabla::nn
