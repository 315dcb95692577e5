// Tensor parallelism: the building blocks (slicing a Linear into column and row shards, the
// sum of row-parallel partial outputs, the all-gather of vocabulary-parallel logits), then
// each model's plan, i.e. which of its layers is split which way. The forward passes in
// llama.cpp and gpt2.cpp call row_parallel and gather_vocab.
#include "nabla/models/tensor_parallel.h"

#include <algorithm>
#include <vector>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/error.h"
#include "nabla/models/causal_lm.h"
#include "nabla/models/gpt2.h"
#include "nabla/models/llama.h"
#include "nabla/ops/creation.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/view.h"

namespace nabla::models {

void CausalLM::shard_for_tensor_parallel(dist::Communicator& comm) {
  NABLA_CHECK(!comm.is_distributed(), name(), ": tensor-parallel inference over ",
              comm.world_size(), " ranks is not implemented for this model");
}

namespace tensor_parallel {

namespace {

void check_no_adapter(const nn::Linear& full, const char* what) {
  NABLA_CHECK(!full.adapter() || !full.adapter()->active(), what,
              ": the Linear has an active adapter; merge it into the weights first (lora::merge)");
  NABLA_CHECK(full.packed_weight() == nullptr, what, ": the Linear's weight is packed (",
              full.packed_weight() ? weight_format_name(full.packed_weight()->format()) : "",
              "); split the f32 model first, then pack it (CausalLM::pack_weights)");
}

void check_rank(int rank, int world_size, const char* what) {
  NABLA_CHECK(world_size > 0 && rank >= 0 && rank < world_size, what, ": rank ", rank,
              " is not in a world of ", world_size);
}

}  // namespace

std::pair<int64_t, int64_t> shard_range(int64_t n, int rank, int world_size) {
  check_rank(rank, world_size, "shard_range");
  const int64_t begin = n * rank / world_size, end = n * (rank + 1) / world_size;
  return {begin, end - begin};
}

std::shared_ptr<nn::Linear> column_shard(
    const nn::Linear& full, int rank, int world_size, int64_t parts) {
  check_no_adapter(full, "column_shard");
  NABLA_CHECK_SHAPE(parts > 0 && full.out_features % parts == 0, "column_shard: ",
                    full.out_features, " output features do not form ", parts, " equal parts");
  NoGradGuard no_grad;
  const int64_t block = full.out_features / parts;
  const auto [begin, size] = shard_range(block, rank, world_size);
  std::vector<Tensor> w, b;  // cat copies them: the shard does not keep the whole weight alive
  for (int64_t p = 0; p < parts; ++p) {
    w.push_back(full.weight.narrow(0, p * block + begin, size));
    if (full.bias.defined()) b.push_back(full.bias.narrow(0, p * block + begin, size));
  }
  return std::make_shared<nn::Linear>(cat(w, 0), b.empty() ? Tensor() : cat(b, 0));
}

std::shared_ptr<nn::Linear> row_shard(const nn::Linear& full, int rank, int world_size) {
  check_no_adapter(full, "row_shard");
  NoGradGuard no_grad;
  const auto [begin, size] = shard_range(full.in_features, rank, world_size);
  return std::make_shared<nn::Linear>(full.weight.narrow(1, begin, size).clone(),
                                      full.bias.defined() ? full.bias.clone() : Tensor());
}

Tensor sum_over_ranks(dist::Communicator& comm, const Tensor& partial) {
  if (!comm.is_distributed()) return partial;
  const Tensor all = comm.all_gather(partial.unsqueeze(0));  // (N, ...)
  Tensor sum = all.select(0, 0);
  for (int64_t r = 1; r < all.size(0); ++r) sum = sum + all.select(0, r);
  return sum.contiguous();
}

Tensor row_parallel(dist::Communicator* comm, nn::Linear& shard, const Tensor& x) {
  if (comm == nullptr) return shard.forward(x);
  const Tensor partial = shard.packed_weight() ? linear(x, *shard.packed_weight())
                                               : linear(x, shard.weight);  // (..., out)
  const Tensor y = sum_over_ranks(*comm, partial);
  return shard.bias.defined() ? y + shard.bias : y;
}

Tensor vocab_shard(const Tensor& weight, int rank, int world_size) {
  check_rank(rank, world_size, "vocab_shard");
  NABLA_CHECK_SHAPE(weight.dim() == 2, "vocab_shard: weight must be (V, C), got ",
                    weight.shape());
  NoGradGuard no_grad;
  const int64_t V = weight.size(0), C = weight.size(1);
  const int64_t rows = (V + world_size - 1) / world_size;  // ceil(V / N)
  const int64_t begin = std::min(V, rank * rows), size = std::min(V, begin + rows) - begin;
  Tensor shard = zeros({rows, C}, weight.dtype());
  shard.narrow(0, 0, size).copy_(weight.narrow(0, begin, size));
  return shard;
}

std::shared_ptr<nn::Linear> vocab_shard(const nn::Linear& full, int rank, int world_size) {
  check_no_adapter(full, "vocab_shard");
  NABLA_CHECK(!full.bias.defined(), "vocab_shard: an output head with a bias is not supported");
  return std::make_shared<nn::Linear>(vocab_shard(full.weight, rank, world_size));
}

Tensor gather_vocab(dist::Communicator& comm, const Tensor& logits, int64_t vocab_size) {
  const int64_t N = comm.world_size(), rows = logits.size(-1);
  NABLA_CHECK_SHAPE(rows * N >= vocab_size, "gather_vocab: ", N, " ranks of ", rows,
                    " logits each cannot hold a vocabulary of ", vocab_size);
  const Tensor all = comm.all_gather(logits.unsqueeze(0));  // (N, ..., Vr)
  Shape order, shape = logits.shape();                       // (N, ..., Vr) -> (..., N, Vr)
  for (int64_t d = 1; d < all.dim() - 1; ++d) order.push_back(d);
  order.push_back(0);
  order.push_back(all.dim() - 1);
  shape.back() = N * rows;
  return all.permute(order).reshape(shape).narrow(-1, 0, vocab_size).contiguous();  // (..., V)
}

}  // namespace tensor_parallel

// ---- Llama: which layer is split which way ------------------------------------------------

void LlamaConfig::check_tensor_parallel(int world_size) const {
  NABLA_CHECK(world_size > 0, "Llama: tensor parallelism needs at least one rank, got ",
              world_size);
  NABLA_CHECK(kv_heads() % world_size == 0, "Llama: cannot split the model over ", world_size,
              " ranks: n_kv_heads ", kv_heads(), " (n_heads ", n_heads,
              ") is not divisible by ", world_size,
              "; each rank must hold whole key/value heads (use a rank count that divides ",
              kv_heads(), ")");
}

void LlamaBlock::shard_for_tensor_parallel(dist::Communicator& comm) {
  namespace tp = tensor_parallel;
  const int r = comm.rank(), N = comm.world_size();
  // Rank r's query heads [r H/N, (r+1) H/N) use exactly the key/value heads
  // [r Hkv/N, (r+1) Hkv/N): GQA's groups are consecutive and Hkv % N == 0.
  wq = attention_->replace_module("wq", tp::column_shard(*wq, r, N));
  wk = attention_->replace_module("wk", tp::column_shard(*wk, r, N));
  wv = attention_->replace_module("wv", tp::column_shard(*wv, r, N));
  wo = attention_->replace_module("wo", tp::row_shard(*wo, r, N));
  w1 = feed_forward_->replace_module("w1", tp::column_shard(*w1, r, N));
  w3 = feed_forward_->replace_module("w3", tp::column_shard(*w3, r, N));
  w2 = feed_forward_->replace_module("w2", tp::row_shard(*w2, r, N));
  n_heads_ /= N;
  n_kv_heads_ /= N;
  tp_ = &comm;
}

void Llama::shard_for_tensor_parallel(dist::Communicator& comm) {
  config_.check_tensor_parallel(comm.world_size());
  if (!comm.is_distributed()) return;
  NABLA_CHECK(tp_ == nullptr, "Llama.shard_for_tensor_parallel: the model is split already");
  NABLA_CHECK(packed_head_ == nullptr, "Llama.shard_for_tensor_parallel: the weights are packed; "
              "split the f32 model first, then pack_weights");
  for (auto& layer : layers) layer->shard_for_tensor_parallel(comm);
  // Vocabulary-parallel head (Meta's output is a ColumnParallelLinear too): 1/N of the
  // largest matmul per rank, and the all-gather hands every rank the same logits. A tied head
  // copies its rows out of the embedding, which every rank keeps whole for the lookup.
  const int r = comm.rank(), N = comm.world_size();
  if (output) {
    output = replace_module("output", tensor_parallel::vocab_shard(*output, r, N));
  } else {
    head_shard_ = tensor_parallel::vocab_shard(tok_embeddings->weight, r, N);
  }
  tp_ = &comm;
  requires_grad_(false);  // no gradient flows through the collectives
}

// ---- GPT-2 ----------------------------------------------------------------------------------

void Gpt2Config::check_tensor_parallel(int world_size) const {
  NABLA_CHECK(world_size > 0, "GPT2: tensor parallelism needs at least one rank, got ",
              world_size);
  NABLA_CHECK(n_head % world_size == 0, "GPT2: cannot split the model over ", world_size,
              " ranks: n_head ", n_head, " is not divisible by ", world_size,
              "; each rank must hold whole attention heads (use a rank count that divides ",
              n_head, ")");
}

void Gpt2Attention::shard_for_tensor_parallel(dist::Communicator& comm) {
  const int r = comm.rank(), N = comm.world_size();
  c_attn = replace_module("c_attn", tensor_parallel::column_shard(*c_attn, r, N, /*parts=*/3));
  c_proj = replace_module("c_proj", tensor_parallel::row_shard(*c_proj, r, N));
  n_head_ /= N;
  tp_ = &comm;
}

void Gpt2Mlp::shard_for_tensor_parallel(dist::Communicator& comm) {
  const int r = comm.rank(), N = comm.world_size();
  c_fc = replace_module("c_fc", tensor_parallel::column_shard(*c_fc, r, N));
  c_proj = replace_module("c_proj", tensor_parallel::row_shard(*c_proj, r, N));
  tp_ = &comm;
}

void Gpt2::shard_for_tensor_parallel(dist::Communicator& comm) {
  config_.check_tensor_parallel(comm.world_size());
  if (!comm.is_distributed()) return;
  NABLA_CHECK(tp_ == nullptr, "GPT2.shard_for_tensor_parallel: the model is split already");
  NABLA_CHECK(packed_head_ == nullptr, "GPT2.shard_for_tensor_parallel: the weights are packed; "
              "split the f32 model first, then pack_weights");
  for (const auto& block : h) {
    block->attn->shard_for_tensor_parallel(comm);
    block->mlp->shard_for_tensor_parallel(comm);
  }
  // Vocabulary-parallel head: 1/N of the largest matmul per rank, and the all-gather hands
  // every rank the same logits. The tied head copies its rows out of wte, which every rank
  // keeps whole for the lookup (GPT-2's 50257 is split in blocks of ceil(V / N), zero-padded).
  const int r = comm.rank(), N = comm.world_size();
  if (lm_head) {
    lm_head = replace_module("lm_head", tensor_parallel::vocab_shard(*lm_head, r, N));
  } else {
    head_shard_ = tensor_parallel::vocab_shard(wte->weight, r, N);
  }
  tp_ = &comm;
  requires_grad_(false);  // no gradient flows through the collectives
}

}  // namespace nabla::models
