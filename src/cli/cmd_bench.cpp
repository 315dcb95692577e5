// nabla bench: the standard speed measurements, one JSON object (or one line) each.
//   train:  GPT-2 training steps (Trainer::train_step: forward, cross-entropy, backward,
//           clipping, AdamW) on random tokens;
//   decode: greedy generation with the KV cache from one BOS token, timed per step.
// ms_per_step is the median over the timed steps (warm-up steps first), tokens_per_s the
// tokens of one step over that median, peak_rss_mb the process's peak resident memory.
//   perplexity: the validation loss of a checkpoint, to weigh --dtype's speed against its cost.
// bench/compare.py runs the PyTorch twin of each and prints the ratios.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

#include "bench_set.h"
#include "commands.h"
#include "flags.h"
#include "train_flags.h"
#include "nabla/core/error.h"
#include "nabla/core/rng.h"
#include "nabla/core/threads.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/data/loader.h"
#include "nabla/data/prepare.h"
#include "nabla/data/shard.h"
#include "nabla/generate/generate.h"
#include "nabla/generate/load.h"
#include "nabla/models/gpt2.h"
#include "nabla/models/llama.h"
#include "nabla/ops/nn_functional.h"
#include "nabla/ops/quantized.h"
#include "nabla/train/trainer.h"

namespace nabla::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: nabla bench [--set standard|quick] [--threads K] [--json] [--list]\n"
    "       nabla bench train  [--model PRESET|config.json] [--batch-size B] [--seq-len T]\n"
    "                          [--steps N] [--warmup N] [--dropout P] [common options]\n"
    "       nabla bench decode [--model PATH|PRESET] [--batch-size B] [--steps N] [--warmup N]\n"
    "                          [common options]\n"
    "       nabla bench perplexity --model PATH --data DIR [--seq-len T] [--batch-size B]\n"
    "                          [--steps N] [common options]\n"
    "  no mode: the standard set (GPT-2 124M training f32/bf16 at T=64 and 256, the baby GPT,\n"
    "          decoding the stories15M/110M shapes at batch 1 and 8), each case in its own\n"
    "          process, as one table with MFU against the f32 (or bf16) peak measured first;\n"
    "          --set quick: two short cases; --list prints the set's cases as JSON lines\n"
    "          without running them (bench/compare.py runs them and PyTorch's twins).\n"
    "  train:  GPT-2 training steps on random tokens; --model a GPT-2 preset (default gpt2)\n"
    "          or a config.json; --batch-size 4, --seq-len 64, --steps 10, --warmup 2,\n"
    "          --dropout 0 (as nanoGPT's bench.py).\n"
    "  decode: greedy decoding from one BOS token; --model a checkpoint that nabla generate\n"
    "          reads, a GPT-2 preset, or a random Llama of llama2.c's shapes: stories15M,\n"
    "          stories42M, stories110M; --batch-size 1, --steps 128 (decode steps), --warmup 8.\n"
    "  perplexity: the quality side of --dtype: mean next-token loss and perplexity of a\n"
    "          checkpoint over DIR/val.bin (a dataset of `nabla prepare` with the model's\n"
    "          tokenizer), --steps batches (default 8) of B (8) sequential windows of T (64).\n"
    "  common: --dtype f32|bf16|int8 (decode: the Linear weights' format; train:\n"
    "          f32|bf16, bf16 = mixed precision)\n"
    "          --threads K --seed N (0) --json\n"
    "  Prints ms_per_step (median), tokens_per_s, peak_rss_mb and the setup.\n";

struct Options {
  std::string mode, model, data, dtype = "f32", set = "standard";
  int64_t batch_size = -1, seq_len = 64, steps = -1, warmup = -1, threads = 0;
  double dropout = 0.0;
  uint64_t seed = 0;
  bool json = false, help = false, list = false;
};

Options parse(const Args& args) {
  Options o;
  size_t k = 0;
  if (!args.empty() && args[0].rfind("--", 0) != 0) o.mode = args[k++];
  for (; k < args.size(); ++k) {
    const std::string& a = args[k];
    if (a == "--help" || a == "-h") {
      o.help = true;
      continue;
    }
    if (a == "--json") {
      o.json = true;
      continue;
    }
    if (a == "--list") {
      o.list = true;
      continue;
    }
    NABLA_CHECK(a.rfind("--", 0) == 0, "bench: unexpected argument '", a, "'\n", kUsage);
    NABLA_CHECK(k + 1 < args.size(), "bench: ", a, " needs a value\n", kUsage);
    const std::string& v = args[++k];
    if (a == "--model") o.model = v;
    else if (a == "--data") o.data = v;
    else if (a == "--dtype") o.dtype = v;
    else if (a == "--set") o.set = v;
    else if (a == "--batch-size") o.batch_size = parse_int("bench", a, v);
    else if (a == "--seq-len") o.seq_len = parse_int("bench", a, v);
    else if (a == "--steps") o.steps = parse_int("bench", a, v);
    else if (a == "--warmup") o.warmup = parse_int("bench", a, v);
    else if (a == "--threads") o.threads = parse_int("bench", a, v);
    else if (a == "--dropout") o.dropout = parse_double("bench", a, v);
    else if (a == "--seed") o.seed = static_cast<uint64_t>(parse_int("bench", a, v));
    else NABLA_CHECK(false, "bench: unknown argument '", a, "'\n", kUsage);
  }
  if (o.help) return o;
  NABLA_CHECK(o.mode.empty() || o.mode == "train" || o.mode == "decode" ||
                  o.mode == "perplexity",
              "bench: expected 'train', 'decode', 'perplexity' or no mode (the standard set), "
              "got '", o.mode, "'\n", kUsage);
  NABLA_CHECK(o.set == "standard" || o.set == "quick", "bench: --set must be standard or quick, "
              "got '", o.set, "'\n", kUsage);
  NABLA_CHECK(!o.list || o.mode.empty(), "bench: --list lists the standard set's cases; it takes "
              "no mode, got '", o.mode, "'\n", kUsage);
  NABLA_CHECK(o.mode != "perplexity" || (!o.model.empty() && !o.data.empty()),
              "bench perplexity: --model and --data are required\n", kUsage);
  if (o.mode == "train") {
    training_dtype("bench train", o.dtype);
  } else {
    weight_format_from_name(o.dtype);
  }
  NABLA_CHECK(o.batch_size != 0 && o.batch_size >= -1 && o.seq_len > 0 && o.steps != 0 &&
                  o.steps >= -1 && o.warmup >= -1 && o.threads >= 0,
              "bench: --batch-size, --seq-len and --steps must be positive, --warmup and "
              "--threads non-negative");
  NABLA_CHECK(o.dropout >= 0.0 && o.dropout < 1.0, "bench: --dropout must be in [0, 1), got ",
              o.dropout);
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double peak_rss_mb() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux reports KiB
}

// One result: printed as a JSON object (--json) or as key=value pairs.
void report(const Options& o, const std::vector<std::pair<std::string, std::string>>& fields) {
  std::ostringstream os;
  if (o.json) {
    os << "{";
    for (size_t i = 0; i < fields.size(); ++i) {
      os << (i ? ", " : "") << '"' << fields[i].first << "\": " << fields[i].second;
    }
    os << "}";
  } else {
    for (size_t i = 0; i < fields.size(); ++i) {
      std::string v = fields[i].second;
      v.erase(std::remove(v.begin(), v.end(), '"'), v.end());
      os << (i ? "  " : "") << fields[i].first << "=" << v;
    }
  }
  std::cout << os.str() << "\n";
}

std::string num(double v) {
  std::ostringstream os;
  os.precision(6);
  os << v;
  return os.str();
}

std::string num(int64_t v) { return std::to_string(v); }

std::string str(const std::string& s) { return "\"" + s + "\""; }

// Random tokens in a temporary shard (removed at once: the mapping keeps it alive).
data::Shard random_shard(int64_t n, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
  const fs::path path = fs::temp_directory_path() /
                        ("nabla-bench-" + std::to_string(::getpid()) + ".bin");
  data::write_shard(path.string(), tokens, vocab);
  data::Shard shard = data::Shard::open(path.string());
  std::error_code ec;
  fs::remove(path, ec);
  return shard;
}

int bench_train(const Options& o) {
  models::Gpt2Config c = fs::exists(o.model.empty() ? "gpt2" : o.model)
                             ? models::Gpt2Config::load(o.model)
                             : models::Gpt2Config::preset(o.model.empty() ? "gpt2" : o.model);
  c.embd_pdrop = c.attn_pdrop = c.resid_pdrop = o.dropout;
  NABLA_CHECK(o.seq_len <= c.n_positions, "bench train: --seq-len ", o.seq_len,
              " is larger than the model's n_positions ", c.n_positions);
  const int64_t B = o.batch_size > 0 ? o.batch_size : 4, T = o.seq_len;
  const int64_t steps = o.steps > 0 ? o.steps : 10, warmup = o.warmup >= 0 ? o.warmup : 2;
  manual_seed(o.seed);
  models::Gpt2 model(c);
  data::TokenLoader loader(random_shard(std::max<int64_t>(B * (T + 1) * 8, 1 << 16),
                                        c.vocab_size, o.seed),
                           B, T, data::Sampling::Random, o.seed);
  train::Trainer trainer(model, loader, nullptr,
                         {.max_steps = warmup + steps, .warmup_steps = 0, .eval_every = 0,
                          .autocast = training_dtype("bench train", o.dtype)});
  for (int64_t s = 0; s < warmup; ++s) trainer.train_step();
  std::vector<double> ms;
  double loss = 0;
  for (int64_t s = 0; s < steps; ++s) {
    const train::StepStats st = trainer.train_step();
    ms.push_back(1e3 * st.seconds);
    loss = st.loss;
  }
  const double med = median(ms);
  const double params = static_cast<double>(model.num_parameters());
  // nanoGPT's estimate: 6 flops per parameter per token plus attention's 12 * L * C * T.
  const double flops_per_token =
      6.0 * params + 12.0 * static_cast<double>(c.n_layer * c.n_embd * T);
  const double tok_s = static_cast<double>(B * T) / (med / 1e3);
  report(o, {{"bench", str("train")},
             {"model", str(o.model.empty() ? "gpt2" : o.model)},
             {"params", num(model.num_parameters())},
             {"batch", num(B)},
             {"seq_len", num(T)},
             {"dtype", str(o.dtype)},
             {"threads", num(static_cast<int64_t>(get_num_threads()))},
             {"steps", num(steps)},
             {"ms_per_step", num(med)},
             {"ms_min", num(*std::min_element(ms.begin(), ms.end()))},
             {"tokens_per_s", num(tok_s)},
             {"gflop_per_s", num(flops_per_token * tok_s / 1e9)},
             {"loss", num(loss)},
             {"peak_rss_mb", num(peak_rss_mb())}});
  return 0;
}

// llama2.c's model shapes (vocab 32000, the head tied to the embedding as in its stories
// models), with random weights: decode speed depends on the shape, not on the values.
const std::map<std::string, models::LlamaConfig>& llama_shapes() {
  static const std::map<std::string, models::LlamaConfig> shapes = {
      {"stories15M", {.dim = 288, .n_layers = 6, .n_heads = 6, .vocab_size = 32000,
                      .hidden_dim = 768, .max_seq_len = 256, .tie_embeddings = true}},
      {"stories42M", {.dim = 512, .n_layers = 8, .n_heads = 8, .vocab_size = 32000,
                      .hidden_dim = 1376, .max_seq_len = 1024, .tie_embeddings = true}},
      {"stories110M", {.dim = 768, .n_layers = 12, .n_heads = 12, .vocab_size = 32000,
                       .hidden_dim = 2048, .max_seq_len = 1024, .tie_embeddings = true}},
  };
  return shapes;
}

std::shared_ptr<models::CausalLM> decode_model(const std::string& name) {
  if (fs::exists(name)) return generation::load_causal_lm(name);
  if (const auto it = llama_shapes().find(name); it != llama_shapes().end()) {
    return std::make_shared<models::Llama>(it->second);
  }
  const auto gpt2 = models::Gpt2Config::preset_names();
  if (std::find(gpt2.begin(), gpt2.end(), name) != gpt2.end()) {
    return std::make_shared<models::Gpt2>(models::Gpt2Config::preset(name));
  }
  std::string known;
  for (const auto& [n, cfg] : llama_shapes()) known += n + ", ";
  for (const auto& n : gpt2) known += n + ", ";
  NABLA_CHECK(false, "bench decode: --model '", name, "' is neither a file nor a preset (",
              known.substr(0, known.size() - 2), ")");
  return nullptr;
}

int bench_decode(const Options& o) {
  const std::string name = o.model.empty() ? "stories110M" : o.model;
  manual_seed(o.seed);
  const auto model = decode_model(name);
  model->eval();
  const int64_t params = model->num_parameters();
  const WeightFormat format = weight_format_from_name(o.dtype);
  if (format != WeightFormat::F32) model->pack_weights(format);
  const int64_t B = o.batch_size > 0 ? o.batch_size : 1;
  const int64_t steps = o.steps > 0 ? o.steps : 128, warmup = o.warmup >= 0 ? o.warmup : 8;
  NABLA_CHECK(warmup + steps + 1 <= model->max_seq_len(), "bench decode: --warmup + --steps (",
              warmup + steps, ") leave no room in the model's ", model->max_seq_len(),
              " positions");
  // Row 0's token marks the end of each step: forward over the cache plus sampling.
  std::vector<Clock::time_point> marks;
  generation::GenerateOptions g{.max_gen_len = warmup + steps + 1, .temperature = 0.0};
  g.on_token = [&](int64_t row, int64_t) {
    if (row == 0) marks.push_back(Clock::now());
  };
  const std::vector<std::vector<int64_t>> prompts(static_cast<size_t>(B), {1});
  generation::generate(*model, prompts, g);
  NABLA_CHECK(static_cast<int64_t>(marks.size()) == warmup + steps + 1,
              "bench decode: generation stopped early after ", marks.size(), " tokens");
  std::vector<double> ms;
  for (int64_t s = warmup + 1; s < static_cast<int64_t>(marks.size()); ++s) {
    ms.push_back(std::chrono::duration<double, std::milli>(marks[s] - marks[s - 1]).count());
  }
  const double med = median(ms);
  const double tok_s = static_cast<double>(B) / (med / 1e3);
  report(o, {{"bench", str("decode")},
             {"model", str(name)},
             {"params", num(params)},
             {"batch", num(B)},
             {"dtype", str(o.dtype)},
             {"threads", num(static_cast<int64_t>(get_num_threads()))},
             {"steps", num(steps)},
             {"ms_per_step", num(med)},
             {"ms_min", num(*std::min_element(ms.begin(), ms.end()))},
             {"tokens_per_s", num(tok_s)},
             // 2 flops per parameter per token: every weight is multiplied once (the tied
             // head included)
             {"gflop_per_s", num(2.0 * static_cast<double>(params) * tok_s / 1e9)},
             {"peak_rss_mb", num(peak_rss_mb())}});
  return 0;
}

int bench_perplexity(const Options& o) {
  const auto model = generation::load_causal_lm(o.model);
  model->eval();
  const WeightFormat format = weight_format_from_name(o.dtype);
  if (format != WeightFormat::F32) model->pack_weights(format);
  const data::DatasetInfo info = data::read_dataset_info(o.data);
  NABLA_CHECK(info.vocab_size <= model->vocab_size(), "bench perplexity: the data's vocabulary (",
              info.vocab_size, ") is larger than the model's (", model->vocab_size(), ")");
  const int64_t B = o.batch_size > 0 ? o.batch_size : 8, T = o.seq_len;
  const int64_t batches = o.steps > 0 ? o.steps : 8;
  NABLA_CHECK(T <= model->max_seq_len(), "bench perplexity: --seq-len ", T,
              " is longer than the model's ", model->max_seq_len(), " positions");
  data::TokenLoader val(data::Shard::open((fs::path(o.data) / "val.bin").string()), B, T,
                        data::Sampling::Sequential);
  NoGradGuard no_grad;
  double nll = 0;
  for (int64_t i = 0; i < batches; ++i) {
    const Tensor batch = val.next();
    const Tensor x = batch.narrow(1, 0, T).contiguous(), y = batch.narrow(1, 1, T).contiguous();
    const Tensor logits = model->forward(x, 0, nullptr);
    nll += cross_entropy(logits.reshape({B * T, logits.size(-1)}), y.reshape({B * T})).item();
  }
  nll /= static_cast<double>(batches);
  report(o, {{"bench", str("perplexity")},
             {"model", str(o.model)},
             {"dtype", str(o.dtype)},
             {"tokens", num(batches * B * T)},
             {"nll", num(nll)},
             {"perplexity", num(std::exp(nll))},
             {"peak_rss_mb", num(peak_rss_mb())}});
  return 0;
}

}  // namespace

int cmd_bench(const Args& args) {
  const Options o = parse(args);
  if (o.help) {
    std::cout << kUsage;
    return 0;
  }
  if (o.threads > 0) set_num_threads(static_cast<int>(o.threads));
  if (o.list) return bench_list(o.set);
  if (o.mode.empty()) return bench_set(o.set, o.threads, o.json);
  if (o.mode == "perplexity") return bench_perplexity(o);
  return o.mode == "train" ? bench_train(o) : bench_decode(o);
}

}  // namespace nabla::cli
