// LLaMA: config, blocks and forward (Meta's llama/model.py; llama2.c's run.c is the numeric
// reference for stories260K). Checkpoint keys: tok_embeddings.weight,
// layers.N.attention.{wq,wk,wv,wo}.weight, layers.N.feed_forward.{w1,w2,w3}.weight,
// layers.N.{attention_norm,ffn_norm}.weight, norm.weight, output.weight.
#include "nabla/models/llama.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/core/error.h"
#include "nabla/models/tensor_parallel.h"
#include "nabla/ops/attention.h"
#include "nabla/ops/creation.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/nn_functional.h"
#include "nabla/ops/reduce.h"
#include "nabla/ops/view.h"

namespace nabla::models {

int64_t LlamaConfig::ffn_hidden_dim() const {
  if (hidden_dim > 0)
    return hidden_dim;
  int64_t h = 2 * (4 * dim) / 3;  // Python's int(2 * hidden_dim / 3) on a non-negative int
  if (ffn_dim_multiplier)
    h = static_cast<int64_t>(*ffn_dim_multiplier * static_cast<double>(h));
  return multiple_of * ((h + multiple_of - 1) / multiple_of);
}

void LlamaConfig::validate() const {
  NABLA_CHECK(
      dim > 0 && n_layers > 0 && n_heads > 0 && vocab_size > 0 && max_seq_len > 0 &&
          n_kv_heads >= 0 && multiple_of > 0,
      "LlamaConfig: sizes must be positive, got dim=", dim, " n_layers=", n_layers,
      " n_heads=", n_heads, " n_kv_heads=", n_kv_heads, " vocab_size=", vocab_size,
      " max_seq_len=", max_seq_len, " multiple_of=", multiple_of);
  NABLA_CHECK(
      dim % n_heads == 0, "LlamaConfig: dim ", dim, " is not divisible by n_heads ", n_heads);
  NABLA_CHECK(
      n_heads % kv_heads() == 0, "LlamaConfig: n_heads ", n_heads,
      " is not divisible by n_kv_heads ", kv_heads());
  NABLA_CHECK(
      head_dim() % 2 == 0, "LlamaConfig: head_dim ", head_dim(),
      " must be even (rotary embeddings rotate pairs)");
  NABLA_CHECK(
      ffn_hidden_dim() > 0, "LlamaConfig: hidden_dim must be positive, got ", ffn_hidden_dim());
}

LlamaConfig LlamaConfig::from_params_json(const io::JsonConfig& p) {
  LlamaConfig c;
  c.dim = p.get_positive_int("dim");
  c.n_layers = p.get_positive_int("n_layers");
  c.n_heads = p.get_positive_int("n_heads");
  c.n_kv_heads = p.get_positive_int("n_kv_heads", c.n_heads);
  c.vocab_size = p.get_int("vocab_size", -1);
  c.multiple_of = p.get_positive_int("multiple_of", 256);
  if (p.contains("ffn_dim_multiplier") &&
      p.dump().find("\"ffn_dim_multiplier\":null") == std::string::npos) {
    c.ffn_dim_multiplier = p.get_double("ffn_dim_multiplier");
  }
  c.norm_eps = p.get_double("norm_eps", 1e-5);
  c.rope_theta = p.get_double("rope_theta", 10000.0);
  c.max_seq_len = p.get_positive_int("max_seq_len", 2048);
  return c;
}

LlamaConfig LlamaConfig::from_hf_config(const io::JsonConfig& p) {
  LlamaConfig c;
  c.dim = p.get_positive_int("hidden_size");
  c.hidden_dim = p.get_positive_int("intermediate_size");
  c.n_layers = p.get_positive_int("num_hidden_layers");
  c.n_heads = p.get_positive_int("num_attention_heads");
  c.n_kv_heads = p.get_positive_int("num_key_value_heads", c.n_heads);
  c.vocab_size = p.get_positive_int("vocab_size");
  c.norm_eps = p.get_double("rms_norm_eps", 1e-6);
  c.rope_theta = p.get_double("rope_theta", 10000.0);
  c.max_seq_len = p.get_positive_int("max_position_embeddings", 2048);
  c.tie_embeddings = p.get_bool("tie_word_embeddings", false);
  NABLA_CHECK(
      p.dump().find("\"rope_scaling\":{") == std::string::npos, p.source(),
      ": rope_scaling is not supported (only plain rotary embeddings)");
  if (p.contains("head_dim")) {
    NABLA_CHECK(
        p.get_int("head_dim") == c.dim / c.n_heads, p.source(), ": head_dim ",
        p.get_int("head_dim"), " != hidden_size / num_attention_heads (", c.dim / c.n_heads,
        ") is not supported");
  }
  return c;
}

std::string LlamaConfig::to_hf_json() const {
  const nlohmann::ordered_json j = {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"hidden_act", "silu"},
      {"hidden_size", dim},
      {"intermediate_size", ffn_hidden_dim()},
      {"num_hidden_layers", n_layers},
      {"num_attention_heads", n_heads},
      {"num_key_value_heads", kv_heads()},
      {"vocab_size", vocab_size},
      {"rms_norm_eps", norm_eps},
      {"rope_theta", rope_theta},
      {"max_position_embeddings", max_seq_len},
      {"tie_word_embeddings", tie_embeddings},
      {"torch_dtype", "float32"},
  };
  return j.dump(2) + "\n";
}

LlamaConfig LlamaConfig::from_llama2c(const io::Llama2cConfig& h) {
  return LlamaConfig{
      .dim = h.dim,
      .n_layers = h.n_layers,
      .n_heads = h.n_heads,
      .n_kv_heads = h.n_kv_heads,
      .vocab_size = h.vocab_size,
      .hidden_dim = h.hidden_dim,
      .max_seq_len = h.seq_len,
      .tie_embeddings = h.shared_classifier};
}

std::pair<Tensor, Tensor> rope_tables(int64_t head_dim, int64_t max_seq_len, double theta) {
  const int64_t half = head_dim / 2;
  Tensor cos = empty({max_seq_len, half}), sin = empty({max_seq_len, half});
  float* c = cos.data<float>();
  float* s = sin.data<float>();
  const auto th = static_cast<float>(theta);
  for (int64_t i = 0; i < half; ++i) {
    // run.c: 1.0f / powf(10000.0f, head_dim / (float)head_size) with head_dim = 2i
    const float freq =
        1.0f / std::pow(th, static_cast<float>(2 * i) / static_cast<float>(head_dim));
    for (int64_t pos = 0; pos < max_seq_len; ++pos) {
      const float angle = static_cast<float>(pos) * freq;
      c[pos * half + i] = std::cos(angle);
      s[pos * half + i] = std::sin(angle);
    }
  }
  return {cos, sin};
}

Tensor apply_rotary_emb(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  return rotary_embedding(x, cos.to(x.dtype()), sin.to(x.dtype()));
}

LlamaBlock::LlamaBlock(const LlamaConfig& config, int64_t layer_id)
    : layer_id_(layer_id),
      n_heads_(config.n_heads),
      n_kv_heads_(config.kv_heads()),
      head_dim_(config.head_dim()) {
  const int64_t d = config.dim, hd = head_dim_, hidden = config.ffn_hidden_dim();
  attention_ = register_module("attention", std::make_shared<nn::Module>());
  auto& attn = *attention_;
  wq = attn.register_module("wq", std::make_shared<nn::Linear>(d, n_heads_ * hd, false));
  wk = attn.register_module("wk", std::make_shared<nn::Linear>(d, n_kv_heads_ * hd, false));
  wv = attn.register_module("wv", std::make_shared<nn::Linear>(d, n_kv_heads_ * hd, false));
  wo = attn.register_module("wo", std::make_shared<nn::Linear>(n_heads_ * hd, d, false));
  feed_forward_ = register_module("feed_forward", std::make_shared<nn::Module>());
  auto& ffn = *feed_forward_;
  w1 = ffn.register_module("w1", std::make_shared<nn::Linear>(d, hidden, false));
  w2 = ffn.register_module("w2", std::make_shared<nn::Linear>(hidden, d, false));
  w3 = ffn.register_module("w3", std::make_shared<nn::Linear>(d, hidden, false));
  attention_norm =
      register_module("attention_norm", std::make_shared<nn::RMSNorm>(d, config.norm_eps));
  ffn_norm = register_module("ffn_norm", std::make_shared<nn::RMSNorm>(d, config.norm_eps));
}

Tensor LlamaBlock::attention(
    const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t start_pos, KVCache* cache) {
  const int64_t B = x.size(0), T = x.size(1);
  Tensor q = wq->forward(x).view({B, T, n_heads_, head_dim_});
  Tensor k = wk->forward(x).view({B, T, n_kv_heads_, head_dim_});
  Tensor v = wv->forward(x).view({B, T, n_kv_heads_, head_dim_});
  q = apply_rotary_emb(q, cos, sin).transpose(1, 2);  // (B, H, T, hd)
  k = apply_rotary_emb(k, cos, sin).transpose(1, 2);  // (B, Hkv, T, hd)
  v = v.transpose(1, 2);
  if (cache != nullptr) {
    // The cache serves inference: what it holds is data, not part of an autograd graph.
    Tensor ck = cache->k[layer_id_].narrow(0, 0, B), cv = cache->v[layer_id_].narrow(0, 0, B);
    ck.narrow(2, start_pos, T).copy_(k.detach());
    cv.narrow(2, start_pos, T).copy_(v.detach());
    k = ck.narrow(2, 0, start_pos + T);
    v = cv.narrow(2, 0, start_pos + T);
  }
  // Decoding (one query, no graph) takes the one-pass kernel over the cache; training and
  // prefill the fused causal op. Grouped key/value heads are read in place, not copied.
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim_));
  Tensor y = T == 1 && !autograd::needs_graph({q, k, v})
                 ? attention_decode(q, k, v, scale)
                 : causal_attention(q, k, v, scale);  // (B, H, T, hd)
  y = y.transpose(1, 2).reshape({B, T, n_heads_ * head_dim_});
  return tensor_parallel::row_parallel(tp_, *wo, y);  // (B, T, dim)
}

Tensor LlamaBlock::forward(
    const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t start_pos, KVCache* cache) {
  Tensor h = x + attention(attention_norm->forward(x), cos, sin, start_pos, cache);
  Tensor g = ffn_norm->forward(h);
  const Tensor a = swiglu(w1->forward(g), w3->forward(g));  // silu(w1 g) * w3 g (B, T, hidden)
  return h + tensor_parallel::row_parallel(tp_, *w2, a);
}

Llama::Llama(const LlamaConfig& config) : config_(config) {
  config_.validate();
  tok_embeddings = register_module(
      "tok_embeddings", std::make_shared<nn::Embedding>(config_.vocab_size, config_.dim));
  auto list = register_module("layers", std::make_shared<nn::Module>());
  for (int64_t i = 0; i < config_.n_layers; ++i) {
    layers.push_back(
        list->register_module(std::to_string(i), std::make_shared<LlamaBlock>(config_, i)));
  }
  norm = register_module("norm", std::make_shared<nn::RMSNorm>(config_.dim, config_.norm_eps));
  if (!config_.tie_embeddings) {
    output = register_module(
        "output", std::make_shared<nn::Linear>(config_.dim, config_.vocab_size, false));
  }
  std::tie(rope_cos_, rope_sin_) =
      rope_tables(config_.head_dim(), config_.max_seq_len, config_.rope_theta);
}

Tensor Llama::forward(const Tensor& tokens, int64_t start_pos, KVCache* cache) {
  NABLA_CHECK(
      tokens.dim() == 2 && !tokens.is_floating_point(),
      "Llama.forward: tokens must be an integer (B, T) tensor, got ", tokens.describe());
  const int64_t B = tokens.size(0), T = tokens.size(1);
  NABLA_CHECK(T > 0 && B > 0, "Llama.forward: empty tokens ", tokens.shape());
  NABLA_CHECK(
      start_pos >= 0 && start_pos + T <= config_.max_seq_len, "Llama.forward: positions ",
      start_pos, "..", start_pos + T - 1, " exceed max_seq_len ", config_.max_seq_len);
  if (cache == nullptr) {
    NABLA_CHECK(
        start_pos == 0, "Llama.forward: start_pos ", start_pos,
        " needs a KV cache holding the earlier positions");
  } else {
    NABLA_CHECK(
        static_cast<int64_t>(cache->k.size()) == config_.n_layers &&
            cache->v.size() == cache->k.size() && B <= cache->max_batch &&
            start_pos + T <= cache->max_seq,
        "Llama.forward: KV cache for ", cache->k.size(), " layers, ", cache->max_batch, " rows, ",
        cache->max_seq, " positions cannot hold batch ", B, " at positions ", start_pos, "..",
        start_pos + T - 1, " of a ", config_.n_layers, "-layer model");
  }
  const double lo = tokens.min().item<double>(), hi = tokens.max().item<double>();
  NABLA_CHECK(
      lo >= 0 && hi < static_cast<double>(config_.vocab_size),
      "Llama.forward: token ids must be in [0, ", config_.vocab_size, "), got min ", lo, " max ",
      hi);
  Tensor cos = rope_cos_.narrow(0, start_pos, T), sin = rope_sin_.narrow(0, start_pos, T);
  Tensor h = tok_embeddings->forward(tokens);  // (B, T, dim)
  for (auto& layer : layers) h = layer->forward(h, cos, sin, start_pos, cache);
  h = norm->forward(h);
  const Tensor logits = output         ? output->forward(h)
                        : packed_head_ ? linear(h, *packed_head_)
                                       : linear(h, tp_ ? head_shard_ : tok_embeddings->weight);
  if (tp_ == nullptr) return logits;                                      // (B, T, V)
  return tensor_parallel::gather_vocab(*tp_, logits, config_.vocab_size);  // from (B, T, V / N)
}

KVCache Llama::make_cache(int64_t max_batch, int64_t max_seq) const {
  NABLA_CHECK(
      max_batch > 0 && max_seq > 0 && max_seq <= config_.max_seq_len,
      "Llama.make_cache: need 0 < max_batch and 0 < max_seq <= max_seq_len ", config_.max_seq_len,
      ", got max_batch ", max_batch, " max_seq ", max_seq);
  KVCache cache;
  cache.max_batch = max_batch;
  cache.max_seq = max_seq;
  const int64_t kv_heads = config_.kv_heads() / (tp_ != nullptr ? tp_->world_size() : 1);
  const Shape shape{max_batch, kv_heads, max_seq, config_.head_dim()};
  for (int64_t i = 0; i < config_.n_layers; ++i) {
    cache.k.push_back(zeros(shape));
    cache.v.push_back(zeros(shape));
  }
  return cache;
}

}  // namespace nabla::models
