// Differentiable building blocks of nn (torch.nn.functional): embedding, norms, dropout and
// losses, each a fused op with its own backward.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "nabla/core/rng.h"
#include "nabla/core/tensor.h"

namespace nabla {

/// Loss reduction: mean over elements (or non-ignored targets), sum, or none.
enum class Reduction { Mean, Sum, None };

/// weight (V, C) rows picked by integer indices (any shape) -> (*indices.shape, C). An index
/// outside [0, V) throws. Row padding_idx (negative counts from the end) gets no gradient.
Tensor embedding(const Tensor& indices, const Tensor& weight,
                 std::optional<int64_t> padding_idx = std::nullopt);
/// Over the last dim: (x - mean) / sqrt(var + eps) * weight + bias; weight/bias may be undefined.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);
/// The pre-norm residual step in one pass: returns {h, layer_norm(h, weight, bias, eps)} with
/// h = x + residual (same shape, no broadcasting). Both are the same bits as the separate add
/// and layer_norm, and both carry gradients.
std::pair<Tensor, Tensor> add_layer_norm(const Tensor& x, const Tensor& residual,
                                         const Tensor& weight, const Tensor& bias,
                                         double eps = 1e-5);
/// Over the last dim: x / sqrt(mean(x^2) + eps) * weight.
Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps = 1e-5);
/// Rotary position embeddings in Meta's Llama layout: x (B, T, H, D), each head vector's pairs
/// (x[2i], x[2i+1]) rotated by the angle whose cosine and sine are cos[t, i] and sin[t, i]
/// ((T, D/2) tables, constants: no gradient flows to them). One fused pass; the gradient is
/// the inverse rotation.
Tensor rotary_embedding(const Tensor& x, const Tensor& cos, const Tensor& sin);
/// SwiGLU's gate: silu(a) * b for a and b of one shape (LLaMA's feed-forward w1/w3), fused.
Tensor swiglu(const Tensor& a, const Tensor& b);
/// Zeroes elements with probability p and scales the rest by 1/(1-p) when training. The mask
/// of element i depends only on (seed, offset + i) of the generator (the default one when
/// gen is null), whose offset advances by numel. Identity when !training or p == 0.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
/// input holds probabilities in [0, 1]; log is clamped at -100 as in PyTorch.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target,
                            Reduction reduction = Reduction::Mean);
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        Reduction reduction = Reduction::Mean);
/// logits (N, C) or (N, C, d...) or (C); target (N), (N, d...) or () int64 class indices;
/// fused log-softmax. A position's loss is (1 - ls) * nll + ls / C * sum_c(-log p_c); targets
/// equal to ignore_index contribute 0, and Mean divides by the number of other targets.
Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     Reduction reduction = Reduction::Mean, int64_t ignore_index = -100,
                     double label_smoothing = 0.0);
/// log_probs (N, C), (N, C, d...) or (C); target int64 class indices; Mean divides by the
/// number of targets that are not ignore_index.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target,
                Reduction reduction = Reduction::Mean, int64_t ignore_index = -100);

}  // namespace nabla
