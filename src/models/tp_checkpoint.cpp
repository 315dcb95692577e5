// Tensor-parallel checkpoints of Llama and GPT-2: each model's Hugging Face tensors with the
// dim each is split along (the plan), the slices of one rank, and loading the merged
// tensors back into a whole model.
#include "nabla/models/tp_checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <utility>
#include <vector>

#include "nabla/core/error.h"
#include "nabla/io/json_config.h"
#include "nabla/io/tp_checkpoint.h"
#include "nabla/models/gpt2.h"
#include "nabla/models/llama.h"
#include "nabla/nn/init.h"

namespace nabla::models {

namespace {

// A model's tensors under HF names (whole, or one rank's slices of a split model), each with
// its split; the vocabulary-parallel head is split in vocab_shard's blocks of ceil(V / N).
struct Plan {
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::vector<io::TpSplit> splits;
  std::string head;    // the vocabulary-parallel head's name; empty when tied
  std::string config;  // config.json
  int64_t vocab_size = 0;
  int64_t split_ways = 1;  // how many ways shard_for_tensor_parallel has split the model
};

io::TpSplit gpt2_split(const std::string& name) {
  if (name.ends_with(".attn.c_attn.weight"))
    return {.dim = 1, .parts = 3};
  if (name.ends_with(".attn.c_attn.bias"))
    return {.dim = 0, .parts = 3};
  if (name.ends_with(".mlp.c_fc.weight"))
    return {.dim = 1};
  if (name.ends_with(".mlp.c_fc.bias"))
    return {.dim = 0};
  if (name.ends_with(".c_proj.weight"))
    return {.dim = 0};  // Conv1D [in, out]: by inputs
  if (name == "lm_head.weight")
    return {.dim = 0};
  return {};
}

io::TpSplit llama_split(const std::string& name) {
  for (const char* s :
       {".q_proj.weight", ".k_proj.weight", ".v_proj.weight", ".gate_proj.weight",
        ".up_proj.weight"}) {
    if (name.ends_with(s))
      return {.dim = 0};
  }
  if (name.ends_with(".o_proj.weight") || name.ends_with(".down_proj.weight"))
    return {.dim = 1};
  if (name == "lm_head.weight")
    return {.dim = 0};
  return {};
}

Plan plan_of(const CausalLM& model) {
  Plan p;
  const nn::Linear* first = nullptr;  // a column-parallel Linear: tells how split the model is
  if (const auto* g = dynamic_cast<const Gpt2*>(&model)) {
    p.tensors = g->hf_state_dict();
    for (const auto& [name, t] : p.tensors) p.splits.push_back(gpt2_split(name));
    p.config = g->config().to_json();
    p.vocab_size = g->config().vocab_size;
    if (g->lm_head)
      p.head = "lm_head.weight";
    first = g->h.empty() ? nullptr : g->h[0]->attn->c_attn.get();
    if (first)
      p.split_ways = 3 * g->config().n_embd / std::max<int64_t>(1, first->out_features);
  } else if (const auto* l = dynamic_cast<const Llama*>(&model)) {
    p.tensors = l->hf_state_dict();
    for (const auto& [name, t] : p.tensors) p.splits.push_back(llama_split(name));
    p.config = l->config().to_hf_json();
    p.vocab_size = l->config().vocab_size;
    if (l->output)
      p.head = "lm_head.weight";
    first = l->layers.empty() ? nullptr : l->layers[0]->wq.get();
    const LlamaConfig& c = l->config();
    if (first)
      p.split_ways = c.n_heads * c.head_dim() / std::max<int64_t>(1, first->out_features);
  } else {
    NABLA_CHECK(
        false, "save_sharded: ", model.name(),
        " has no tensor-parallel checkpoint (Llama and GPT-2 have)");
  }
  NABLA_CHECK(
      first == nullptr || first->packed_weight() == nullptr,
      "save_sharded: the weights are packed (",
      first && first->packed_weight() ? weight_format_name(first->packed_weight()->format()) : "",
      "); save the f32 model, then pack it after loading");
  return p;
}

void check_splittable(const CausalLM& model, int64_t shards) {
  NABLA_CHECK(
      shards >= 1 && shards <= io::kTpMaxShards, "save_sharded: shards must be in [1, ",
      io::kTpMaxShards, "], got ", shards);
  if (const auto* g = dynamic_cast<const Gpt2*>(&model)) {
    g->config().check_tensor_parallel(static_cast<int>(shards));
  } else if (const auto* l = dynamic_cast<const Llama*>(&model)) {
    l->config().check_tensor_parallel(static_cast<int>(shards));
  }
}

// Rows [begin, begin + size) of a V-row head that vocab_shard gives rank (blocks of
// ceil(V / N); the last blocks are short or empty, padded with zero rows in the model).
std::pair<int64_t, int64_t> vocab_rows(int64_t V, int64_t rank, int64_t shards) {
  const int64_t rows = (V + shards - 1) / shards;
  const int64_t begin = std::min(V, rank * rows);
  return {begin, std::min(V, begin + rows) - begin};
}

io::TpIndex index_of(const Plan& p, int64_t shards) {
  io::TpIndex index{.shards = shards, .tensors = {}};
  for (size_t i = 0; i < p.tensors.size(); ++i) {
    index.tensors.emplace_back(p.tensors[i].first, p.splits[i]);
  }
  return index;
}

}  // namespace

void save_sharded(const CausalLM& model, const std::string& dir, int64_t shards) {
  check_splittable(model, shards);
  const Plan p = plan_of(model);
  NABLA_CHECK(
      p.split_ways == 1, "save_sharded: ", model.name(), " is split ", p.split_ways,
      " ways already; pass the whole model, or call save_sharded(model, dir, comm) on "
      "every rank");
  io::remove_tp_index(dir);  // incomplete until the index is written again
  for (int64_t r = 0; r < shards; ++r) {
    std::vector<std::pair<std::string, Tensor>> slices;
    for (size_t i = 0; i < p.tensors.size(); ++i) {
      const auto& [name, t] = p.tensors[i];
      if (name == p.head) {
        const auto [begin, size] = vocab_rows(p.vocab_size, r, shards);
        slices.emplace_back(name, t.narrow(0, begin, size));
      } else {
        slices.emplace_back(name, io::tp_slice(t, p.splits[i], r, shards));
      }
    }
    io::save_tp_shard(dir, r, shards, slices, p.config);
  }
  io::save_tp_index(dir, index_of(p, shards), p.config);
}

void save_sharded(const CausalLM& model, const std::string& dir, dist::Communicator& comm) {
  const int64_t r = comm.rank(), N = comm.world_size();
  Plan p = plan_of(model);
  NABLA_CHECK(
      p.split_ways == N, "save_sharded: ", model.name(), " is split ", p.split_ways,
      " ways but the world has ", N, " ranks; call shard_for_tensor_parallel(comm) first");
  for (auto& [name, t] : p.tensors) {
    if (name == p.head)
      t = t.narrow(0, 0, vocab_rows(p.vocab_size, r, N).second);  // no padding
  }
  if (r == 0)
    io::remove_tp_index(dir);
  comm.barrier();
  io::save_tp_shard(dir, r, N, p.tensors, p.config);
  comm.barrier();  // every shard is on disk before the index makes the checkpoint visible
  if (r == 0)
    io::save_tp_index(dir, index_of(p, N), p.config);
  comm.barrier();
}

std::shared_ptr<CausalLM> load_sharded(const std::string& dir, int64_t max_seq_len) {
  const io::Weights w = io::load_tp_checkpoint(dir);
  const std::string config_path = (std::filesystem::path(dir) / "config.json").string();
  const io::JsonConfig json = io::JsonConfig::parse(w.metadata.at("config"), config_path);
  const std::string type = json.get_string("model_type", "");
  std::shared_ptr<CausalLM> model;
  if (type == "gpt2") {
    nn::init::SkipInitGuard skip_init;  // every parameter is set from the checkpoint
    auto g = std::make_shared<Gpt2>(Gpt2Config::from_json(json));
    g->load_hf_weights(w);
    model = g;
  } else {
    NABLA_CHECK_IO(
        type == "llama", "load_sharded: ", config_path, " has model_type '", type,
        "'; tensor-parallel checkpoints hold \"llama\" or \"gpt2\"");
    LlamaConfig c = LlamaConfig::from_hf_config(json);
    if (max_seq_len > 0)
      c.max_seq_len = max_seq_len;
    nn::init::SkipInitGuard skip_init;
    auto l = std::make_shared<Llama>(c);
    l->load_weights(llama_weights_from_hf(w, c));
    model = l;
  }
  model->eval();
  return model;
}

}  // namespace nabla::models
