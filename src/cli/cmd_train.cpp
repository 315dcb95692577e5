// nabla train: pretrains a GPT-2 on a dataset directory written by `nabla prepare`, with
// nanoGPT's flags; checkpoints in OUT/checkpoint, final weights as OUT/model.safetensors +
// OUT/config.json (Hugging Face layout). Under `mpirun -np N` it trains data parallel: each
// rank takes its slice of a global batch of N x --batch-size rows; only rank 0 writes.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include "commands.h"
#include "flags.h"
#include "train_flags.h"
#include "train_ranks.h"
#include "nabla/core/error.h"
#include "nabla/core/rng.h"
#include "nabla/data/loader.h"
#include "nabla/data/prepare.h"
#include "nabla/dist/communicator.h"
#include "nabla/generate/generate.h"
#include "nabla/models/gpt2.h"
#include "nabla/train/trainer.h"

namespace nabla::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: nabla train --data DIR --out DIR [options]\n"
    "  model:    --model PRESET|config.json (default gpt2; presets: gpt2, gpt2-medium,\n"
    "            gpt2-large, gpt2-xl, gpt2-tiny, gpt2-baby) --n-layer N --n-head N --n-embd N\n"
    "            --block-size T (default: the model's n_positions; sets n_positions when no\n"
    "            --model is given) --dropout P --no-qkv-bias\n"
    "  batches:  --batch-size B (12, per rank) --grad-accum N (1)\n"
    "  schedule: --max-steps N (5000) --lr X (6e-4) --min-lr X (6e-5) --warmup-steps N (100)\n"
    "            --lr-decay-steps N (max steps) --weight-decay X (0.1) --beta1 X (0.9)\n"
    "            --beta2 X (0.95) --grad-clip X (1.0; 0 = off)\n"
    "  eval:     --eval-every N (250) --eval-iters N (20) --sample-every N (0 = never)\n"
    "            --sample-tokens N (200)\n"
    "  run:      --checkpoint-every N (0 = end only) --resume DIR --seed N (1337) --threads N\n"
    "            --metrics FILE (JSONL) --log-every N (10) --peak-tflops X (0.33, for MFU)\n"
    "            --dtype f32|bf16 (f32; bf16: linear layers multiply in bf16, f32 weights)\n"
    "  Aliases: --warmup = --warmup-steps, --save-every = --checkpoint-every.\n"
    "  Ctrl-C finishes the current step, saves a checkpoint and exits.\n"
    "  Data parallel: mpirun -np N nabla train ... trains on N x --batch-size rows per step\n"
    "  (the same steps as one process with N times the batch); rank 0 logs and writes; without\n"
    "  --threads or OMP_NUM_THREADS the ranks of a machine share its cores.\n"
    "  --overlap-grad-reduce 0|1 (1): average gradients during the backward pass, or after it.\n";

struct Options {
  std::string data, out, model, resume, metrics;
  std::map<std::string, std::string> model_flags;  // --n-layer etc., applied to the config
  int64_t block_size = -1, batch_size = 12, sample_tokens = 200, threads = 0;
  uint64_t seed = 1337;
  bool help = false;
  train::TrainOptions t{.max_steps = 5000, .log_every = 10};
};

Options parse(const Args& args) {
  Options o;
  for (size_t k = 0; k < args.size(); ++k) {
    const std::string& a = args[k];
    if (a == "--help" || a == "-h") {
      o.help = true;
      continue;
    }
    if (a == "--no-qkv-bias") {
      o.model_flags[a] = "1";
      continue;
    }
    NABLA_CHECK(a.rfind("--", 0) == 0, "train: unexpected argument '", a, "'\n", kUsage);
    NABLA_CHECK(k + 1 < args.size(), "train: ", a, " needs a value\n", kUsage);
    const std::string& v = args[++k];
    if (parse_train_flag("train", a, v, o.t)) continue;
    if (a == "--data") o.data = v;
    else if (a == "--out") o.out = v;
    else if (a == "--model") o.model = v;
    else if (a == "--resume") o.resume = v;
    else if (a == "--metrics") o.t.metrics_path = v;
    else if (a == "--block-size") o.block_size = parse_int("train", a, v);
    else if (a == "--batch-size") o.batch_size = parse_int("train", a, v);
    else if (a == "--sample-tokens") o.sample_tokens = parse_int("train", a, v);
    else if (a == "--threads") o.threads = parse_int("train", a, v);
    else if (a == "--seed") o.seed = static_cast<uint64_t>(parse_int("train", a, v));
    else if (a == "--n-layer" || a == "--n-head" || a == "--n-embd" || a == "--dropout" ||
             a == "--vocab-size") o.model_flags[a] = v;
    else NABLA_CHECK(false, "train: unknown argument '", a, "'\n", kUsage);
  }
  if (o.help) return o;
  NABLA_CHECK(!o.data.empty() && !o.out.empty(), "train: --data and --out are required\n", kUsage);
  NABLA_CHECK(o.batch_size > 0 && o.threads >= 0, "train: --batch-size must be positive and "
              "--threads non-negative");
  return o;
}

// The model's config: --model (preset or config.json; on resume without --model, the
// config.json saved in OUT), then the size flags; vocab_size from the data.
models::Gpt2Config make_config(const Options& o, int64_t data_vocab) {
  models::Gpt2Config c;
  const std::string saved = (fs::path(o.out) / "config.json").string();
  if (!o.model.empty()) {
    c = fs::exists(o.model) ? models::Gpt2Config::load(o.model) : models::Gpt2Config::preset(o.model);
  } else if (!o.resume.empty() && fs::exists(saved)) {
    c = models::Gpt2Config::load(saved);
  } else {
    c = models::Gpt2Config::preset("gpt2");
    if (o.block_size > 0) c.n_positions = o.block_size;
  }
  c.vocab_size = data_vocab;
  for (const auto& [flag, v] : o.model_flags) {
    if (flag == "--n-layer") c.n_layer = parse_int("train", flag, v);
    if (flag == "--n-head") c.n_head = parse_int("train", flag, v);
    if (flag == "--n-embd") c.n_embd = parse_int("train", flag, v);
    if (flag == "--vocab-size") c.vocab_size = parse_int("train", flag, v);
    if (flag == "--no-qkv-bias") c.qkv_bias = false;
    if (flag == "--dropout") {
      c.embd_pdrop = c.attn_pdrop = c.resid_pdrop = parse_double("train", flag, v);
    }
  }
  NABLA_CHECK(c.vocab_size >= data_vocab, "train: --vocab-size ", c.vocab_size,
              " is smaller than the data's vocabulary (", data_vocab, ")");
  c.validate();
  return c;
}

// nanoGPT's sample.py through nabla's generation API: starts from the tokenizer's BOS/EOT
// (or "\n"), temperature 0.8, top-k 200, with a sampler seed of its own, so that sampling
// never shifts the training's random streams (resume stays exact).
std::string sample_text(models::CausalLM& model, const tokenizers::Tokenizer& tok, int64_t n,
                        uint64_t seed) {
  std::vector<int64_t> prompt;
  if (tok.bos_id()) {
    prompt.push_back(*tok.bos_id());
  } else {
    for (const int32_t id : tok.encode("\n")) prompt.push_back(id);
    if (prompt.empty()) prompt.push_back(0);
  }
  generation::GenerateOptions g;
  g.max_gen_len = std::min(n, model.max_seq_len() - static_cast<int64_t>(prompt.size()));
  g.temperature = 0.8;
  g.top_p = 1.0;
  g.top_k = 200;
  g.seed = seed;
  const auto result = generation::generate(model, {prompt}, g);
  std::vector<int32_t> ids;
  for (const int64_t id : result.tokens[0]) {
    if (id < tok.vocab_size()) ids.push_back(static_cast<int32_t>(id));
  }
  return tok.decode(ids);
}

// The config first, so that a resume after a crash finds it.
void write_config(const std::string& out, const models::Gpt2Config& config) {
  std::error_code ec;
  fs::create_directories(out, ec);
  NABLA_CHECK(!ec, "train: cannot create ", out, ": ", ec.message());
  const fs::path cfg = fs::path(out) / "config.json", tmp = cfg.string() + ".tmp";
  std::ofstream(tmp) << config.to_json();
  fs::rename(tmp, cfg, ec);
  NABLA_CHECK(!ec, "train: cannot write ", cfg.string(), ": ", ec.message());
}

}  // namespace

int cmd_train(const Args& args) {
  Options o = parse(args);
  if (o.help) {
    std::cout << kUsage;
    return 0;
  }
  dist::Communicator& comm = start_ranks(o.threads);
  const bool main_rank = comm.rank() == 0;
  const data::DatasetInfo info = data::read_dataset_info(o.data);
  const models::Gpt2Config config = make_config(o, info.vocab_size);
  const int64_t T = o.block_size > 0 ? o.block_size : config.n_positions;
  NABLA_CHECK(T <= config.n_positions, "train: --block-size ", T, " is larger than the model's ",
              "n_positions ", config.n_positions);
  manual_seed(o.seed);
  auto model = std::make_shared<models::Gpt2>(config);
  data::TokenLoader train_data =
      open_rank_loader(o.data, "train", o.batch_size, T, data::Sampling::Random, o.seed, comm);
  std::optional<data::TokenLoader> val_data;
  if (info.val_tokens > T) {
    val_data.emplace(
        open_rank_loader(o.data, "val", o.batch_size, T, data::Sampling::Sequential, 0, comm));
  }
  const auto tok = data::load_dataset_tokenizer(info);
  o.t.out_dir = o.out;
  train_on_ranks(o.t, comm, std::cout);
  if (o.t.sample_every > 0) {
    o.t.sample = [&, n = o.sample_tokens, seed = o.seed](models::CausalLM& m) {
      return sample_text(m, *tok, n, seed);
    };
  }
  if (main_rank) write_config(o.out, config);
  train::Trainer trainer(*model, train_data, val_data ? &*val_data : nullptr, o.t);
  if (!o.resume.empty()) {
    trainer.resume(o.resume);
    if (main_rank) std::cout << "resumed from " << o.resume << " at step " << trainer.step() << "\n";
  }
  if (main_rank) {
    std::cout << "model: GPT-2 " << config.n_layer << " layers, " << config.n_head
              << " heads, width " << config.n_embd << ", " << model->num_parameters()
              << " parameters; data: " << info.train_tokens << " train tokens, vocab "
              << info.vocab_size << ", batch " << o.batch_size << " x " << T << " x "
              << o.t.grad_accum;
    if (comm.is_distributed()) std::cout << " on each of " << comm.world_size() << " ranks";
    std::cout << "\n";
  }
  train::install_stop_handler();
  const train::FitResult r = trainer.fit();
  if (!main_rank) return 0;
  model->save_pretrained(o.out);
  std::cout << (r.interrupted ? "interrupted" : "done") << " at step " << r.step << ": train loss "
            << r.train_loss;
  if (r.val_loss) std::cout << ", val loss " << *r.val_loss;
  std::cout << "; weights in " << (fs::path(o.out) / "model.safetensors").string()
            << ", checkpoint in " << r.checkpoint << "\n";
  return 0;
}

}  // namespace nabla::cli
