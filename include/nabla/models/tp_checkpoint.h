// Writing and loading tensor-parallel checkpoints (the format: nabla/io/tp_checkpoint.h) for
// the models that split: which Hugging Face tensor is split along which dim is written here
// once, as models/tensor_parallel.cpp splits the layers. Llama: q/k/v/gate/up_proj by output
// rows, o_proj/down_proj by input columns, lm_head by vocabulary rows. GPT-2 (Conv1D weights
// are [in, out]): c_attn by columns in three parts (q | k | v), c_fc by columns, both c_proj
// by rows, lm_head by vocabulary rows. Embeddings, norms and row-parallel biases are
// replicated.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nabla/dist/communicator.h"
#include "nabla/models/causal_lm.h"

namespace nabla::models {

/// Writes the whole (unsplit, unpacked) model into dir as `shards` shards, config.json and
/// the index (last), each file atomically. Throws nabla::Error when the model cannot be split
/// `shards` ways (LlamaConfig/Gpt2Config::check_tensor_parallel) or is not a Llama or GPT-2.
void save_sharded(const CausalLM& model, const std::string& dir, int64_t shards);

/// Every rank of comm writes its own shard of model, which shard_for_tensor_parallel(comm)
/// has split (a world of one: the whole model, one shard); after a barrier rank 0 writes
/// config.json and the index. Every rank of comm must call it.
void save_sharded(const CausalLM& model, const std::string& dir, dist::Communicator& comm);

/// Loads the whole model from a tensor-parallel checkpoint of any shard count (the shards
/// merged along their split dims), in eval mode; shard_for_tensor_parallel then splits it for
/// any rank count the model allows. max_seq_len 0 keeps the config's (Llama; GPT-2 always
/// keeps n_positions). Errors name the file (io::load_tp_checkpoint).
std::shared_ptr<CausalLM> load_sharded(const std::string& dir, int64_t max_seq_len = 0);

}  // namespace nabla::models
