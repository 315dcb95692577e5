// Tensor (model) parallelism for inference, as Megatron-LM (Shoeybi et al. 2019,
// arXiv:1909.08053, section 3) and Meta's llama/model.py split a transformer over N ranks:
// a column-parallel Linear keeps 1/N of the output features (attention heads, MLP hidden
// units), the row-parallel Linear after it the matching 1/N of the input features, and the N
// partial outputs are summed across ranks. The output head is column-parallel over the
// vocabulary, its logits all-gathered. The pieces here are the slicing and the collectives;
// Llama and Gpt2 say which layer is which (shard_for_tensor_parallel).
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include "nabla/core/tensor.h"
#include "nabla/dist/communicator.h"
#include "nabla/nn/linear.h"

namespace nabla::models::tensor_parallel {

/// The [begin, begin + size) of n items that rank of world_size owns: consecutive blocks,
/// sizes differing by at most one (n * rank / world_size rounded down at both ends).
std::pair<int64_t, int64_t> shard_range(int64_t n, int rank, int world_size);

/// A Linear with rank's block of full's output features (weight rows and bias entries).
/// parts > 1: the output is that many equal blocks, each split alike and the pieces kept in
/// order (GPT-2's fused c_attn, q | k | v, with parts = 3). Throws when full has an active
/// LoRA adapter (merge it first).
std::shared_ptr<nn::Linear> column_shard(
    const nn::Linear& full, int rank, int world_size, int64_t parts = 1);
/// A Linear with rank's block of full's input features (weight columns) and all of its bias,
/// which row_parallel adds once, after the sum over ranks.
std::shared_ptr<nn::Linear> row_shard(const nn::Linear& full, int rank, int world_size);

/// partial (any shape, f32) summed over the ranks. The partials are all-gathered and added in
/// rank order, so every rank gets bitwise the same sum, run after run; MPI_Allreduce promises
/// neither (its algorithm, and so its order of additions, depends on the message size and
/// the number of ranks). For N = 2 it moves as many bytes as an all-reduce.
Tensor sum_over_ranks(dist::Communicator& comm, const Tensor& partial);

/// y = sum over ranks of x_r shard.weight_r^T, plus shard.bias: the second half of a
/// column -> row parallel pair. x (..., in / N) -> (..., out), the same on every rank. With
/// comm null, shard is a whole Linear and this is shard.forward(x).
Tensor row_parallel(dist::Communicator* comm, nn::Linear& shard, const Tensor& x);

/// Rank's rows of an output head or tied embedding weight (V, C): rows [rank * Vr,
/// (rank + 1) * Vr) with Vr = ceil(V / world_size), zero rows past V (so that every rank's
/// logits have the same width for the all-gather). (Vr, C), a copy.
Tensor vocab_shard(const Tensor& weight, int rank, int world_size);
/// A Linear (C -> ceil(V / world_size), no bias) holding vocab_shard of full's weight; throws
/// when full has a bias or an active adapter.
std::shared_ptr<nn::Linear> vocab_shard(const nn::Linear& full, int rank, int world_size);

/// This rank's logits (..., Vr) from a vocab_shard head -> all logits (..., vocab_size), the
/// same bytes on every rank (so every rank samples the same tokens from the same seed).
Tensor gather_vocab(dist::Communicator& comm, const Tensor& logits, int64_t vocab_size);

}  // namespace nabla::models::tensor_parallel
