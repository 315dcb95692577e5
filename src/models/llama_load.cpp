// Loading Llama weights: Meta-named io::Weights into the parameters, llama2.c .bin files, and
// Hugging Face checkpoints (config.json + safetensors), whose names are mapped to Meta's and
// whose q/k rows are un-permuted (convert_llama_weights_to_hf.py reorders each head's rows
// from interleaved pairs to two halves for its rotate_half rotary embedding).
#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/error.h"
#include "nabla/io/safetensors_index.h"
#include "nabla/io/torch_pth.h"
#include "nabla/io/tp_checkpoint.h"
#include "nabla/models/llama.h"
#include "nabla/nn/init.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/view.h"

namespace nabla::models {

namespace fs = std::filesystem;

void Llama::load_weights(const io::Weights& w) {
  NoGradGuard no_grad;
  w.reset_used();
  std::vector<std::pair<Tensor, const Tensor*>> loads;  // check everything before loading
  for (const auto& [name, param] : named_parameters()) {
    const Tensor& src = w.at(name);
    NABLA_CHECK_IO(
        src.is_floating_point(), w.format(), ": ", name, " is ", src.dtype(),
        ", expected a floating dtype (", w.source(), ")");
    loads.emplace_back(param, &w.get(name, param.shape(), src.dtype()));
  }
  w.check_all_used();
  // Parameters take the checkpoint's tensors (no copy) where they can, but two parameters
  // never share memory: a second one over the same bytes (a file whose tensors alias) copies.
  std::set<const void*> taken;
  for (auto& [param, src] : loads) {
    if (src->numel() > 0 && !taken.insert(src->raw_data()).second) {
      param.copy_(*src);
    } else {
      nn::init::load_(param, *src);
    }
  }
}

std::shared_ptr<Llama> Llama::from_llama2c(const std::string& path, int64_t max_seq_len) {
  io::Llama2cCheckpoint ckpt = io::load_llama2c(path);
  LlamaConfig config = LlamaConfig::from_llama2c(ckpt.config);
  if (max_seq_len > 0)
    config.max_seq_len = max_seq_len;
  nn::init::SkipInitGuard skip_init;  // every parameter is set from the checkpoint
  auto model = std::make_shared<Llama>(config);
  model->load_weights(ckpt.weights);
  return model;
}

namespace {

// Inverse of the HF conversion's permute(w, n_heads): (n, D/2, 2, in) -> (n, 2, D/2, in) was
// applied to every head's rows; this maps them back.
Tensor unpermute_rotary(const Tensor& w, int64_t n_heads) {
  const int64_t out = w.size(0), in = w.size(1);
  return w.reshape({n_heads, 2, out / n_heads / 2, in}).transpose(1, 2).reshape({out, in});
}

// A layer's Hugging Face module names and Meta's.
const std::vector<std::pair<std::string, std::string>> kLayerNames = {
    {"self_attn.q_proj", "attention.wq"},    {"self_attn.k_proj", "attention.wk"},
    {"self_attn.v_proj", "attention.wv"},    {"self_attn.o_proj", "attention.wo"},
    {"mlp.gate_proj", "feed_forward.w1"},    {"mlp.down_proj", "feed_forward.w2"},
    {"mlp.up_proj", "feed_forward.w3"},      {"input_layernorm", "attention_norm"},
    {"post_attention_layernorm", "ffn_norm"}};

// The HF conversion's permute(w, n_heads): each head's rows from interleaved pairs to halves.
Tensor permute_rotary(const Tensor& w, int64_t n_heads) {
  const int64_t out = w.size(0), in = w.size(1);
  return w.reshape({n_heads, out / n_heads / 2, 2, in}).transpose(1, 2).reshape({out, in});
}

std::string hf_to_meta_name(const std::string& hf) {
  const auto& kLayer = kLayerNames;
  if (hf == "model.embed_tokens.weight")
    return "tok_embeddings.weight";
  if (hf == "model.norm.weight")
    return "norm.weight";
  if (hf == "lm_head.weight")
    return "output.weight";
  const std::string prefix = "model.layers.";
  if (hf.rfind(prefix, 0) != 0)
    return {};
  const size_t dot = hf.find('.', prefix.size());
  if (dot == std::string::npos)
    return {};
  const std::string layer = hf.substr(prefix.size(), dot - prefix.size());
  const std::string rest = hf.substr(dot + 1);
  for (const auto& [from, to] : kLayer) {
    if (rest == from + ".weight")
      return "layers." + layer + "." + to + ".weight";
  }
  return {};
}

}  // namespace

io::Weights llama_weights_from_hf(const io::Weights& hf, const LlamaConfig& config) {
  io::Weights out(hf.format(), hf.source());
  for (const auto& e : hf.entries()) {
    // Older transformers versions saved the rotary inverse frequencies as a buffer; they
    // follow from the config.
    if (e.name.ends_with(".self_attn.rotary_emb.inv_freq"))
      continue;
    const std::string name = hf_to_meta_name(e.name);
    NABLA_CHECK_IO(
        !name.empty(), hf.format(), ": unexpected tensor ", e.name, " (", hf.source(),
        ") is not part of a Hugging Face Llama checkpoint");
    Tensor t = e.tensor;
    if (name == "output.weight" && config.tie_embeddings) {
      // save_pretrained drops a tied lm_head, but some exports keep a copy of the embedding.
      NABLA_CHECK_IO(
          hf.contains("model.embed_tokens.weight") && equal(t, hf.at("model.embed_tokens.weight")),
          hf.format(),
          ": lm_head.weight differs from model.embed_tokens.weight but "
          "tie_word_embeddings is true (",
          hf.source(), ")");
      continue;
    }
    const bool is_q = name.ends_with(".attention.wq.weight");
    const bool is_k = name.ends_with(".attention.wk.weight");
    if (is_q || is_k) {
      const int64_t heads = is_q ? config.n_heads : config.kv_heads();
      const Shape expect{heads * config.head_dim(), config.dim};
      NABLA_CHECK_IO(
          t.shape() == expect, hf.format(), ": ", e.name, " is ", t.shape(), ", model expects ",
          expect, " (", hf.source(), ")");
      t = unpermute_rotary(t, heads);
    }
    out.add(name, t, e.offset);
  }
  return out;
}

// The model's own tensors (adapters excluded), as nn::Module would name and lay them out
// under Hugging Face's names. A split model's wq/wk hold whole heads, so the per-head
// permutation applies to its slices alike.
std::vector<std::pair<std::string, Tensor>> Llama::hf_state_dict() const {
  std::vector<std::pair<std::string, Tensor>> out;
  out.emplace_back("model.embed_tokens.weight", tok_embeddings->weight.detach());
  const int64_t head_dim = config_.head_dim();
  for (size_t l = 0; l < layers.size(); ++l) {
    const LlamaBlock& b = *layers[l];
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const std::vector<const Tensor*> w = {&b.wq->weight, &b.wk->weight, &b.wv->weight,
                                          &b.wo->weight, &b.w1->weight, &b.w2->weight,
                                          &b.w3->weight, &b.attention_norm->weight,
                                          &b.ffn_norm->weight};
    for (size_t i = 0; i < w.size(); ++i) {
      Tensor t = w[i]->detach();
      if (i < 2) t = permute_rotary(t, t.size(0) / head_dim);  // q_proj, k_proj
      out.emplace_back(p + kLayerNames[i].first + ".weight", t);
    }
  }
  out.emplace_back("model.norm.weight", norm->weight.detach());
  if (output) out.emplace_back("lm_head.weight", output->weight.detach());
  return out;
}

std::shared_ptr<Llama> Llama::from_hf(const std::string& path, int64_t max_seq_len) {
  const fs::path dir = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
  const fs::path config_path = dir / "config.json";
  NABLA_CHECK_IO(
      fs::exists(config_path), "Llama.from_hf: ", config_path.string(),
      " not found (a Hugging Face checkpoint needs its config.json)");
  LlamaConfig config = LlamaConfig::from_hf_config(io::JsonConfig::load(config_path.string()));
  if (max_seq_len > 0)
    config.max_seq_len = max_seq_len;
  const io::Weights hf = io::load_safetensors_any(path);
  nn::init::SkipInitGuard skip_init;  // every parameter is set from the checkpoint
  auto model = std::make_shared<Llama>(config);
  model->load_weights(llama_weights_from_hf(hf, config));
  return model;
}

namespace {

// The dim along which Meta's model-parallel shards split a tensor (fairscale layers:
// ColumnParallelLinear splits outputs, RowParallelLinear inputs; ParallelEmbedding (Llama 2)
// splits the embedding dim, VocabParallelEmbedding (Llama 3) the vocabulary); -1: replicated.
int64_t meta_split_dim(
    const std::string& name, const Tensor& shard, int64_t n, const LlamaConfig& config) {
  for (const char* s : {".wq.weight", ".wk.weight", ".wv.weight", ".w1.weight", ".w3.weight"}) {
    if (name.ends_with(s))
      return 0;
  }
  if (name.ends_with(".wo.weight") || name.ends_with(".w2.weight"))
    return 1;
  if (name == "output.weight")
    return 0;
  if (name == "tok_embeddings.weight")
    return shard.size(1) * n == config.dim ? 1 : 0;
  return -1;
}

}  // namespace

io::Weights merge_meta_shards(const std::vector<io::Weights>& shards, const LlamaConfig& config) {
  NABLA_CHECK(!shards.empty(), "merge_meta_shards: no shards");
  const auto n = static_cast<int64_t>(shards.size());
  io::Weights out(shards[0].format(), shards[0].source());
  for (const auto& e : shards[0].entries()) {
    if (e.name == "rope.freqs")
      continue;  // Meta's checkpoints carry the RoPE frequencies
    std::vector<Tensor> parts;
    for (const auto& s : shards) {
      NABLA_CHECK_IO(
          s.contains(e.name), s.format(), ": missing tensor ", e.name, " (", s.source(), ") that ",
          shards[0].source(), " has");
      parts.push_back(s.at(e.name));
    }
    const io::TpSplit split{.dim = meta_split_dim(e.name, e.tensor, n, config)};
    out.add(e.name, io::tp_merge(parts, split, e.name + " (" + shards[0].source() + ", ...)"),
            e.offset);
  }
  for (const auto& s : shards) {
    for (const auto& e : s.entries()) {
      NABLA_CHECK_IO(
          e.name == "rope.freqs" || out.contains(e.name), s.format(), ": unexpected tensor ",
          e.name, " (", s.source(), ") not in ", shards[0].source());
    }
  }
  return out;
}

std::shared_ptr<Llama> Llama::from_meta(const std::string& ckpt_dir, int64_t max_seq_len) {
  const fs::path dir(ckpt_dir);
  const fs::path params = dir / "params.json";
  NABLA_CHECK_IO(
      fs::exists(params), "Llama.from_meta: ", params.string(),
      " not found (Meta's layout is params.json + consolidated.NN.pth)");
  LlamaConfig config = LlamaConfig::from_params_json(io::JsonConfig::load(params.string()));
  if (max_seq_len > 0)
    config.max_seq_len = max_seq_len;
  std::vector<std::string> files;
  for (const auto& f : fs::directory_iterator(dir)) {
    const std::string name = f.path().filename().string();
    if (name.starts_with("consolidated.") && name.ends_with(".pth"))
      files.push_back(f.path());
  }
  std::sort(files.begin(), files.end());
  NABLA_CHECK_IO(!files.empty(), "Llama.from_meta: no consolidated.*.pth in ", ckpt_dir);
  std::vector<io::Weights> shards;
  for (const auto& f : files) shards.push_back(io::load_torch_pth(f));
  io::Weights merged = merge_meta_shards(shards, config);
  if (config.vocab_size <= 0) {  // Llama 2's params.json leaves it to the tokenizer
    config.vocab_size = merged.at("tok_embeddings.weight").size(0);
  }
  config.tie_embeddings = !merged.contains("output.weight");
  nn::init::SkipInitGuard skip_init;  // every parameter is set from the checkpoint
  auto model = std::make_shared<Llama>(config);
  model->load_weights(merged);
  return model;
}

std::shared_ptr<Llama> load_llama(const std::string& path, int64_t max_seq_len) {
  const fs::path p(path);
  if (fs::is_directory(p) && fs::exists(p / "params.json")) {
    return Llama::from_meta(path, max_seq_len);
  }
  if (fs::is_directory(p) || p.extension() == ".safetensors" || path.ends_with(".index.json")) {
    return Llama::from_hf(path, max_seq_len);
  }
  return Llama::from_llama2c(path, max_seq_len);
}

}  // namespace nabla::models
