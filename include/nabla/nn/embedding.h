// nn::Embedding: a lookup table of num_embeddings rows of size embedding_dim.
#pragma once

#include <optional>

#include "nabla/nn/module.h"

namespace nabla::nn {

class Embedding : public Module {
 public:
  /// weight (num, dim) ~ N(0, 1); row padding_idx (negative counts from the end) is zeroed
  /// and receives no gradient.
  Embedding(int64_t num_embeddings, int64_t embedding_dim,
            std::optional<int64_t> padding_idx = std::nullopt);
  /// indices (any shape, int64/int32) -> (*indices, dim).
  Tensor forward(const Tensor& indices) override;
  std::string name() const override { return "Embedding"; }
  std::string extra_repr() const override;

  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;  ///< normalised to [0, num_embeddings)
  Tensor weight;                       ///< (num_embeddings, embedding_dim)
};

}  // namespace nabla::nn
