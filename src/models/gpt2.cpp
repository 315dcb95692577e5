// GPT-2: config + presets, blocks and forward. Paper: Radford et al. 2019; reference
// implementations: Hugging Face transformers modeling_gpt2.py and nanoGPT model.py.
// Checkpoint keys (HF): wte.weight, wpe.weight, h.N.{ln_1,attn.c_attn,attn.c_proj,ln_2,
// mlp.c_fc,mlp.c_proj}.{weight,bias}, ln_f.{weight,bias}. Loading/saving: gpt2_checkpoint.cpp.
#include "nabla/models/gpt2.h"

#include <cmath>

#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/models/tensor_parallel.h"
#include "nabla/nn/init.h"
#include "nabla/ops/attention.h"
#include "nabla/ops/creation.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/nn_functional.h"
#include "nabla/ops/reduce.h"
#include "nabla/ops/view.h"

namespace nabla::models {

namespace {

struct Preset {
  const char* name;
  Gpt2Config config;
};

// Hub configs (huggingface.co/openai-community/gpt2*/config.json); small ones for tests and
// nanoGPT's CPU recipe (config/train_shakespeare_char.py with its "baby GPT" CPU overrides).
const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = {
      {"gpt2", {}},
      {"gpt2-medium", {.n_embd = 1024, .n_layer = 24, .n_head = 16}},
      {"gpt2-large", {.n_embd = 1280, .n_layer = 36, .n_head = 20}},
      {"gpt2-xl", {.n_embd = 1600, .n_layer = 48, .n_head = 25}},
      {"gpt2-tiny",
       {.vocab_size = 128, .n_positions = 32, .n_embd = 64, .n_layer = 2, .n_head = 4,
        .embd_pdrop = 0.0, .attn_pdrop = 0.0, .resid_pdrop = 0.0}},
      {"gpt2-baby",
       {.vocab_size = 65, .n_positions = 64, .n_embd = 128, .n_layer = 4, .n_head = 4,
        .embd_pdrop = 0.0, .attn_pdrop = 0.0, .resid_pdrop = 0.0}},
  };
  return all;
}

}  // namespace

Gpt2Config Gpt2Config::preset(const std::string& name) {
  for (const Preset& p : presets()) {
    if (name == p.name) return p.config;
  }
  std::string known;
  for (const Preset& p : presets()) known += (known.empty() ? "" : ", ") + std::string(p.name);
  NABLA_CHECK(false, "Gpt2Config: unknown preset '", name, "' (known: ", known, ")");
  return {};
}

std::vector<std::string> Gpt2Config::preset_names() {
  std::vector<std::string> names;
  for (const Preset& p : presets()) names.emplace_back(p.name);
  return names;
}

void Gpt2Config::validate() const {
  const std::pair<const char*, int64_t> sizes[] = {{"vocab_size", vocab_size},
                                                   {"n_positions", n_positions},
                                                   {"n_embd", n_embd},
                                                   {"n_layer", n_layer},
                                                   {"n_head", n_head}};
  for (const auto& [field, v] : sizes) {
    NABLA_CHECK(v > 0, "Gpt2Config: ", field, " must be positive, got ", v);
  }
  NABLA_CHECK(n_embd % n_head == 0, "Gpt2Config: n_embd (", n_embd,
              ") must be divisible by n_head (", n_head, ")");
  const std::pair<const char*, double> probs[] = {
      {"embd_pdrop", embd_pdrop}, {"attn_pdrop", attn_pdrop}, {"resid_pdrop", resid_pdrop}};
  for (const auto& [field, p] : probs) {
    NABLA_CHECK(p >= 0.0 && p < 1.0, "Gpt2Config: ", field, " must be in [0, 1), got ", p);
  }
  NABLA_CHECK(layer_norm_epsilon > 0.0, "Gpt2Config: layer_norm_epsilon must be positive, got ",
              layer_norm_epsilon);
}

int64_t Gpt2Config::num_parameters() const {
  const int64_t C = n_embd;
  const int64_t per_layer = 2 * (2 * C)                      // ln_1, ln_2
                            + C * 3 * C + (qkv_bias ? 3 * C : 0)  // attn.c_attn
                            + C * C + C                       // attn.c_proj
                            + C * 4 * C + 4 * C               // mlp.c_fc
                            + 4 * C * C + C;                  // mlp.c_proj
  return vocab_size * C + n_positions * C + n_layer * per_layer + 2 * C +
         (tie_word_embeddings ? 0 : vocab_size * C);
}

// ---------------------------------------------------------------------------------------------

Gpt2Attention::Gpt2Attention(const Gpt2Config& config, int64_t layer)
    : n_head_(config.n_head),
      head_dim_(config.head_dim()),
      layer_(layer),
      attn_pdrop_(config.attn_pdrop),
      resid_pdrop_(config.resid_pdrop) {
  const int64_t C = config.n_embd;
  c_attn = register_module("c_attn", std::make_shared<nn::Linear>(C, 3 * C, config.qkv_bias));
  c_proj = register_module("c_proj", std::make_shared<nn::Linear>(C, C));
}

Tensor Gpt2Attention::forward(const Tensor& x, int64_t start_pos, KVCache* cache,
                              Generator* gen) {
  // C: the width of this rank's heads (n_embd unless split over ranks)
  const int64_t B = x.size(0), T = x.size(1), NH = n_head_, HS = head_dim_, C = NH * HS;
  const std::vector<Tensor> qkv = c_attn->forward(x).split(C, 2);  // 3 x (B, T, C)
  auto heads = [&](const Tensor& t) { return t.reshape({B, T, NH, HS}).transpose(1, 2); };
  const Tensor q = heads(qkv[0]);  // (B, NH, T, HS)
  Tensor k = heads(qkv[1]), v = heads(qkv[2]);
  if (cache != nullptr) {
    // Inference path: the cache holds plain values, so no graph goes through it.
    Tensor& ck = cache->k[static_cast<size_t>(layer_)];
    Tensor& cv = cache->v[static_cast<size_t>(layer_)];
    {
      NoGradGuard no_grad;
      ck.narrow(0, 0, B).narrow(2, start_pos, T).copy_(k.detach());
      cv.narrow(0, 0, B).narrow(2, start_pos, T).copy_(v.detach());
    }
    k = ck.narrow(0, 0, B).narrow(2, 0, start_pos + T);  // (B, NH, start_pos + T, HS)
    v = cv.narrow(0, 0, B).narrow(2, 0, start_pos + T);
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
  const double p = is_training() ? attn_pdrop_ : 0.0;
  // Decoding (one query, no graph) takes the one-pass kernel over the cache; training and
  // prefill the fused causal op (query i at position start_pos + i).
  Tensor y = T == 1 && p == 0.0 && !autograd::needs_graph({q, k, v})
                 ? attention_decode(q, k, v, scale)
                 : causal_attention(q, k, v, scale, p, gen);  // (B, NH, T, HS)
  y = tensor_parallel::row_parallel(tp_, *c_proj, y.transpose(1, 2).reshape({B, T, C}));
  return dropout(y, resid_pdrop_, is_training(), gen);  // (B, T, n_embd)
}

Gpt2Mlp::Gpt2Mlp(const Gpt2Config& config) : resid_pdrop_(config.resid_pdrop) {
  const int64_t C = config.n_embd;
  c_fc = register_module("c_fc", std::make_shared<nn::Linear>(C, 4 * C));
  c_proj = register_module("c_proj", std::make_shared<nn::Linear>(4 * C, C));
}

Tensor Gpt2Mlp::forward(const Tensor& x, Generator* gen) {
  // GPT-2's GELU is the tanh approximation (HF "gelu_new").
  const Tensor y = tensor_parallel::row_parallel(tp_, *c_proj, gelu(c_fc->forward(x), "tanh"));
  return dropout(y, resid_pdrop_, is_training(), gen);
}

Gpt2Block::Gpt2Block(const Gpt2Config& config, int64_t layer) {
  const int64_t C = config.n_embd;
  ln_1 = register_module("ln_1", std::make_shared<nn::LayerNorm>(C, config.layer_norm_epsilon));
  attn = register_module("attn", std::make_shared<Gpt2Attention>(config, layer));
  ln_2 = register_module("ln_2", std::make_shared<nn::LayerNorm>(C, config.layer_norm_epsilon));
  mlp = register_module("mlp", std::make_shared<Gpt2Mlp>(config));
}

Tensor Gpt2Block::forward(const Tensor& x, int64_t start_pos, KVCache* cache, Generator* gen) {
  // h = x + attn(ln_1(x)) and ln_2(h) in one pass
  const auto [h, y] = ln_2->forward_add(x, attn->forward(ln_1->forward(x), start_pos, cache, gen));
  return h + mlp->forward(y, gen);  // (B, T, C)
}

// ---------------------------------------------------------------------------------------------

namespace {
// The container of the blocks: registered as "h" so that parameters read h.0.ln_1.weight.
class ModuleList : public nn::Module {
 public:
  std::string name() const override { return "ModuleList"; }
};
}  // namespace

Gpt2::Gpt2(Gpt2Config config) : config_(config) {
  config_.validate();
  const int64_t C = config_.n_embd;
  wte = register_module("wte", std::make_shared<nn::Embedding>(config_.vocab_size, C));
  wpe = register_module("wpe", std::make_shared<nn::Embedding>(config_.n_positions, C));
  auto blocks = register_module("h", std::make_shared<ModuleList>());
  for (int64_t l = 0; l < config_.n_layer; ++l) {
    h.push_back(blocks->register_module(std::to_string(l), std::make_shared<Gpt2Block>(config_, l)));
  }
  ln_f = register_module("ln_f", std::make_shared<nn::LayerNorm>(C, config_.layer_norm_epsilon));
  if (!config_.tie_word_embeddings) {
    lm_head = register_module("lm_head",
                              std::make_shared<nn::Linear>(C, config_.vocab_size, false));
  }
  reset_parameters();
}

void Gpt2::reset_parameters() {
  constexpr double kStd = 0.02;  // GPT-2 / HF initializer_range
  const double proj_std = kStd / std::sqrt(2.0 * static_cast<double>(config_.n_layer));
  nn::init::normal_(wte->weight, 0.0, kStd);
  nn::init::normal_(wpe->weight, 0.0, kStd);
  auto init_linear = [](nn::Linear& fc, double std) {
    nn::init::normal_(fc.weight, 0.0, std);
    if (fc.bias.defined()) nn::init::zeros_(fc.bias);
  };
  for (const auto& block : h) {
    for (nn::LayerNorm* ln : {block->ln_1.get(), block->ln_2.get()}) {
      nn::init::ones_(ln->weight);
      nn::init::zeros_(ln->bias);
    }
    init_linear(*block->attn->c_attn, kStd);
    init_linear(*block->attn->c_proj, proj_std);
    init_linear(*block->mlp->c_fc, kStd);
    init_linear(*block->mlp->c_proj, proj_std);
  }
  nn::init::ones_(ln_f->weight);
  nn::init::zeros_(ln_f->bias);
  if (lm_head) init_linear(*lm_head, kStd);
}

Tensor Gpt2::forward(const Tensor& tokens, int64_t start_pos, KVCache* cache) {
  NABLA_CHECK_SHAPE(tokens.dim() == 2, "GPT2: tokens must be (B, T), got ", tokens.shape());
  NABLA_CHECK_DTYPE(tokens.dtype() == kInt64 || tokens.dtype() == kInt32,
                    "GPT2: tokens must be int64 or int32, got ", tokens.dtype());
  const int64_t B = tokens.size(0), T = tokens.size(1);
  NABLA_CHECK_SHAPE(start_pos >= 0 && (cache != nullptr || start_pos == 0),
                    "GPT2: start_pos must be 0 without a cache, got ", start_pos);
  NABLA_CHECK_SHAPE(start_pos + T <= config_.n_positions, "GPT2: positions ", start_pos, "..",
                    start_pos + T - 1, " exceed n_positions ", config_.n_positions);
  if (cache != nullptr) {
    NABLA_CHECK_SHAPE(
        static_cast<int64_t>(cache->k.size()) == config_.n_layer &&
            cache->v.size() == cache->k.size(),
        "GPT2: the cache has ", cache->k.size(), " layers, the model ", config_.n_layer);
    NABLA_CHECK_SHAPE(B <= cache->max_batch && start_pos + T <= cache->max_seq,
                      "GPT2: batch ", B, " at positions ", start_pos, "..", start_pos + T - 1,
                      " does not fit a cache of ", cache->max_batch, " rows x ", cache->max_seq,
                      " positions");
  }
  const Tensor pos = arange(start_pos, start_pos + T);                   // (T)
  Tensor x = wte->forward(tokens) + wpe->forward(pos);                   // (B, T, C)
  x = dropout(x, config_.embd_pdrop, is_training(), generator);
  for (const auto& block : h) x = block->forward(x, start_pos, cache, generator);
  x = ln_f->forward(x);
  const Tensor logits = lm_head        ? lm_head->forward(x)
                        : packed_head_ ? linear(x, *packed_head_)
                                       : linear(x, tp_ ? head_shard_ : wte->weight);
  if (tp_ == nullptr) return logits;                                      // (B, T, V)
  return tensor_parallel::gather_vocab(*tp_, logits, config_.vocab_size);  // from (B, T, V / N)
}

KVCache Gpt2::make_cache(int64_t max_batch, int64_t max_seq) const {
  NABLA_CHECK_SHAPE(max_batch > 0 && max_seq > 0 && max_seq <= config_.n_positions,
                    "GPT2: make_cache needs max_batch > 0 and 0 < max_seq <= n_positions (",
                    config_.n_positions, "), got ", max_batch, " and ", max_seq);
  KVCache cache;
  cache.max_batch = max_batch;
  cache.max_seq = max_seq;
  const int64_t n_head = config_.n_head / (tp_ != nullptr ? tp_->world_size() : 1);
  const Shape shape{max_batch, n_head, max_seq, config_.head_dim()};
  for (int64_t l = 0; l < config_.n_layer; ++l) {
    cache.k.push_back(zeros(shape));
    cache.v.push_back(zeros(shape));
  }
  return cache;
}

}  // namespace nabla::models
