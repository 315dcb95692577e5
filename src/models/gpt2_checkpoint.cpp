// GPT-2 checkpoints: Hugging Face config.json, safetensors in HF names and layouts (Conv1D
// weights c_attn / c_proj / c_fc stored [in, out], nn::Linear holds [out, in]), llm.c files
// (io/llmc.h already maps them to HF names and layouts). File parsing lives in io/.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "nabla/autograd/grad_mode.h"
#include "nabla/io/atomic_file.h"
#include "nabla/io/llmc.h"
#include "nabla/io/safetensors.h"
#include "nabla/models/gpt2.h"
#include "nabla/nn/init.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/reduce.h"

namespace nabla::models {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// HF's GPT-2 uses Conv1D ([in, out]) for these; lm_head is an nn.Linear ([out, in]) there too.
bool is_conv1d(const std::string& name) {
  return ends_with(name, "c_attn.weight") || ends_with(name, "c_proj.weight") ||
         ends_with(name, "c_fc.weight");
}

// GPT-2's activation is the tanh GELU under every name HF gives it.
bool is_tanh_gelu(const std::string& name) {
  return name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast";
}

}  // namespace

Gpt2Config Gpt2Config::from_json(const io::JsonConfig& json) {
  const Gpt2Config d;
  Gpt2Config c;
  c.vocab_size = json.get_positive_int("vocab_size", d.vocab_size);
  c.n_positions = json.get_positive_int("n_positions", d.n_positions);
  c.n_embd = json.get_positive_int("n_embd", d.n_embd);
  c.n_layer = json.get_positive_int("n_layer", d.n_layer);
  c.n_head = json.get_positive_int("n_head", d.n_head);
  c.embd_pdrop = json.get_double("embd_pdrop", d.embd_pdrop);
  c.attn_pdrop = json.get_double("attn_pdrop", d.attn_pdrop);
  c.resid_pdrop = json.get_double("resid_pdrop", d.resid_pdrop);
  c.layer_norm_epsilon = json.get_double("layer_norm_epsilon", d.layer_norm_epsilon);
  c.qkv_bias = json.get_bool("qkv_bias", d.qkv_bias);
  c.tie_word_embeddings = json.get_bool("tie_word_embeddings", d.tie_word_embeddings);
  const std::string& src = json.source();
  NABLA_CHECK(json.get_int("n_ctx", c.n_positions) == c.n_positions, src, ": n_ctx (",
              json.get_int("n_ctx"), ") differs from n_positions (", c.n_positions, ")");
  const std::string act = json.get_string("activation_function", "gelu_new");
  NABLA_CHECK(is_tanh_gelu(act), src, ": activation_function '", act,
              "' is not supported; GPT-2 uses gelu_new (tanh approximation)");
  // n_inner may be null (HF's default, 4 * n_embd); JsonConfig has no null test, so look here.
  const nlohmann::json raw = nlohmann::json::parse(json.dump());
  if (raw.contains("n_inner") && !raw["n_inner"].is_null()) {
    NABLA_CHECK(json.get_int("n_inner") == 4 * c.n_embd, src, ": n_inner ",
                json.get_int("n_inner"), " is not supported (nabla's GPT-2 uses 4 * n_embd = ",
                4 * c.n_embd, ")");
  }
  NABLA_CHECK(!json.get_bool("scale_attn_by_inverse_layer_idx", false), src,
              ": scale_attn_by_inverse_layer_idx is not supported");
  NABLA_CHECK(json.get_bool("scale_attn_weights", true), src,
              ": scale_attn_weights = false is not supported");
  try {
    c.validate();
  } catch (const Error& e) {
    throw Error(src + ": " + e.what());
  }
  return c;
}

Gpt2Config Gpt2Config::load(const std::string& path) {
  return from_json(io::JsonConfig::load(path));
}

std::string Gpt2Config::to_json() const {
  const nlohmann::ordered_json j = {
      {"architectures", {"GPT2LMHeadModel"}},
      {"model_type", "gpt2"},
      {"activation_function", "gelu_new"},
      {"vocab_size", vocab_size},
      {"n_positions", n_positions},
      {"n_ctx", n_positions},
      {"n_embd", n_embd},
      {"n_layer", n_layer},
      {"n_head", n_head},
      {"n_inner", nullptr},
      {"embd_pdrop", embd_pdrop},
      {"attn_pdrop", attn_pdrop},
      {"resid_pdrop", resid_pdrop},
      {"layer_norm_epsilon", layer_norm_epsilon},
      {"initializer_range", 0.02},
      {"tie_word_embeddings", tie_word_embeddings},
      {"qkv_bias", qkv_bias},
      {"bos_token_id", 50256},
      {"eos_token_id", 50256},
  };
  return j.dump(2) + "\n";
}

// ---------------------------------------------------------------------------------------------

// GPT-2's own tensors only, listed here rather than taken from named_parameters(): adapters
// attached to the Linears (LoRA) add parameters that are not part of the checkpoint.
std::vector<std::pair<std::string, Tensor>> Gpt2::hf_state_dict() const {
  std::vector<std::pair<std::string, Tensor>> out;
  auto add = [&](const std::string& name, const Tensor& p) {
    if (p.defined()) out.emplace_back(name, is_conv1d(name) ? p.detach().t() : p.detach());
  };
  auto add_linear = [&](const std::string& name, const nn::Linear& fc) {
    add(name + ".weight", fc.weight);
    add(name + ".bias", fc.bias);
  };
  auto add_norm = [&](const std::string& name, const nn::LayerNorm& ln) {
    add(name + ".weight", ln.weight);
    add(name + ".bias", ln.bias);
  };
  add("wte.weight", wte->weight);
  add("wpe.weight", wpe->weight);
  for (size_t l = 0; l < h.size(); ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    add_norm(p + "ln_1", *h[l]->ln_1);
    add_linear(p + "attn.c_attn", *h[l]->attn->c_attn);
    add_linear(p + "attn.c_proj", *h[l]->attn->c_proj);
    add_norm(p + "ln_2", *h[l]->ln_2);
    add_linear(p + "mlp.c_fc", *h[l]->mlp->c_fc);
    add_linear(p + "mlp.c_proj", *h[l]->mlp->c_proj);
  }
  add_norm("ln_f", *ln_f);
  if (lm_head) add_linear("lm_head", *lm_head);
  return out;
}

namespace {

std::string list_names(const std::vector<std::string>& names) {
  constexpr size_t kShown = 10;  // enough to see the pattern
  std::string s;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > kShown) s += ", ... (" + std::to_string(names.size() - kShown) + " more)";
  return s;
}

// A floating tensor of exactly this shape, marked used (Weights::get's checks and messages).
const Tensor& take(const io::Weights& w, const std::string& name, const Shape& shape) {
  const Tensor& t = w.at(name);
  NABLA_CHECK_IO(t.is_floating_point(), w.format(), ": ", name, " is ", t.dtype(),
                 ", GPT-2 needs floating point weights (", w.source(), ")");
  return w.get(name, shape, t.dtype());
}

}  // namespace

void Gpt2::load_hf_weights(const io::Weights& w) {
  w.reset_used();
  const std::string prefix = w.contains("transformer.wte.weight") ? "transformer." : "";
  auto key = [&](const std::string& name) {
    return name == "lm_head.weight" ? name : prefix + name;  // HF never prefixes the head
  };
  const auto params = hf_state_dict();  // HF layouts
  std::vector<std::string> missing;
  for (const auto& [name, p] : params) {
    if (!w.contains(key(name))) missing.push_back(key(name));
  }
  NABLA_CHECK_IO(missing.empty(), w.format(), ": ", missing.size(), " GPT-2 tensor(s) missing: ",
                 list_names(missing), " (", w.source(),
                 ")\n---> HINT: the checkpoint is not a GPT-2 of this configuration (n_layer ",
                 config_.n_layer, ", qkv_bias ", config_.qkv_bias, ", tie_word_embeddings ",
                 config_.tie_word_embeddings, ")");
  std::vector<std::pair<Tensor, Tensor>> copies;  // (HF-layout view of the parameter, source)
  for (const auto& [name, p] : params) copies.emplace_back(p, take(w, key(name), p.shape()));
  NoGradGuard no_grad;
  if (config_.tie_word_embeddings && w.contains("lm_head.weight")) {
    const Tensor& head = take(w, "lm_head.weight", wte->weight.shape());
    const Tensor& emb = w.at(prefix + "wte.weight");
    const double diff = (head.to(kFloat32) - emb.to(kFloat32)).abs().max().item<float>();
    NABLA_CHECK_IO(diff == 0.0, w.format(), ": lm_head.weight differs from wte.weight (max |diff| ",
                   diff, ") but the config ties them (", w.source(),
                   ")\n---> HINT: set \"tie_word_embeddings\": false in config.json");
  }
  for (int64_t l = 0; l < config_.n_layer; ++l) {  // HF's causal-mask buffers: not weights
    for (const char* buf : {".attn.bias", ".attn.masked_bias"}) {
      const std::string name = prefix + "h." + std::to_string(l) + buf;
      if (w.contains(name)) w.get(name, w.at(name).shape(), w.at(name).dtype());
    }
  }
  w.check_all_used();
  for (auto& [dst, src] : copies) dst.copy_(src);
}

void Gpt2::save_pretrained(const std::string& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  NABLA_CHECK_IO(!ec, "GPT2: cannot create directory ", dir, ": ", ec.message());
  const std::filesystem::path base(dir);
  io::save_safetensors((base / "model.safetensors").string(), hf_state_dict(),
                       {{"format", "pt"}});
  io::write_file_atomic((base / "config.json").string(), config_.to_json(), "config.json");
}

std::shared_ptr<Gpt2> Gpt2::from_pretrained(const std::string& dir) {
  const std::filesystem::path base(dir);
  nn::init::SkipInitGuard skip_init;  // every parameter is set from the checkpoint
  auto model = std::make_shared<Gpt2>(Gpt2Config::load((base / "config.json").string()));
  model->load_hf_weights(io::load_safetensors((base / "model.safetensors").string()));
  return model;
}

std::shared_ptr<Gpt2> Gpt2::from_llmc(const std::string& path) {
  const io::LlmcCheckpoint ckpt = io::load_llmc(path);
  const io::LlmcConfig& h = ckpt.config;
  Gpt2Config c{.vocab_size = h.vocab_size,
               .n_positions = h.max_seq_len,
               .n_embd = h.channels,
               .n_layer = h.num_layers,
               .n_head = h.num_heads,
               .embd_pdrop = 0.0,
               .attn_pdrop = 0.0,
               .resid_pdrop = 0.0};
  try {
    c.validate();
  } catch (const Error& e) {
    throw IoError("llm.c: " + path + ": " + e.what());
  }
  nn::init::SkipInitGuard skip_init;  // every parameter is set from the checkpoint
  auto model = std::make_shared<Gpt2>(c);
  model->load_hf_weights(ckpt.weights);
  return model;
}

void Gpt2::save_llmc(const std::string& path, DType dtype) const {
  NABLA_CHECK(config_.qkv_bias && config_.tie_word_embeddings,
              "GPT2: llm.c checkpoints need qkv_bias and a tied head (", path, ")");
  NABLA_CHECK_DTYPE(dtype == kFloat32 || dtype == kBFloat16,
                    "GPT2: llm.c checkpoints are f32 or bf16, got ", dtype);
  constexpr int64_t kPad = 128;  // llm.c pads 50257 to 50304 for its matmul kernels
  const io::LlmcConfig header{
      .max_seq_len = config_.n_positions,
      .vocab_size = config_.vocab_size,
      .num_layers = config_.n_layer,
      .num_heads = config_.n_head,
      .channels = config_.n_embd,
      .padded_vocab_size = (config_.vocab_size + kPad - 1) / kPad * kPad,
      .dtype = dtype};
  io::Weights w("llm.c", path);
  for (auto& [name, t] : hf_state_dict()) w.add(name, t);
  io::save_llmc(path, header, w);
}

}  // namespace nabla::models
