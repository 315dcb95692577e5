// Every differentiable op, once. tests/ops/coverage_test.cpp fails when one of them has no
// gradcheck case (a `gradcheck("name", ...)` call in tests/ops).
#pragma once

#define NABLA_DIFFERENTIABLE_OPS(X)                                                            \
  /* element-wise */                                                                            \
  X(add) X(sub) X(mul) X(div) X(pow) X(maximum) X(minimum) X(neg) X(abs) X(exp) X(log) X(sqrt) \
  X(rsqrt) X(tanh) X(sigmoid) X(relu) X(gelu) X(silu) X(clamp) X(where) X(masked_fill)         \
  /* copies, views and indexing */                                                              \
  X(to) X(clone) X(contiguous) X(reshape) X(expand) X(transpose) X(permute) X(unsqueeze)       \
  X(squeeze) X(narrow) X(select) X(slice) X(index_select) X(gather) X(cat) X(stack) X(tril)    \
  X(triu)                                                                                       \
  /* reductions */                                                                              \
  X(sum) X(mean) X(var) X(max) X(min) X(softmax) X(log_softmax) X(logsumexp) X(norm)           \
  /* linear algebra */                                                                          \
  X(matmul) X(linear)                                                                           \
  /* nn functional */                                                                           \
  X(embedding) X(layer_norm) X(rms_norm) X(dropout) X(mse_loss) X(binary_cross_entropy)        \
  X(binary_cross_entropy_with_logits) X(cross_entropy) X(nll_loss)                              \
  /* fused */                                                                                   \
  X(causal_attention) X(rotary_embedding) X(swiglu) X(add_layer_norm)
