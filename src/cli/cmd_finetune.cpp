// nabla finetune: LoRA fine-tuning of any checkpoint nabla loads on a prepared dataset
// (`nabla prepare`): adapters on --lora-targets, the base frozen, train::Trainer's loop, and
// the adapter written to --out in PEFT's format (adapter_config.json + adapter_model.safetensors).
// Checkpoints (OUT/checkpoint) hold the adapter, its optimizer state and the loop's position,
// never the frozen base, so they are a few KB and `--resume` continues bitwise exactly. Under
// `mpirun -np N` it trains data parallel as `nabla train` does (train_ranks.h).
#include <filesystem>
#include <iostream>
#include <string>

#include "commands.h"
#include "flags.h"
#include "nabla/core/rng.h"
#include "nabla/data/loader.h"
#include "nabla/data/prepare.h"
#include "nabla/data/shard.h"
#include "nabla/generate/load.h"
#include "nabla/lora/adapter_io.h"
#include "nabla/lora/lora.h"
#include "nabla/train/trainer.h"
#include "train_flags.h"
#include "train_ranks.h"

namespace nabla::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: nabla finetune --base MODEL --data DIR --out DIR --lora-targets NAMES [options]\n"
    "  lora:     --lora-r R (8) --lora-alpha A (16) --lora-dropout P (0)\n"
    "  batches:  --batch-size B (16) --block-size T (128) --grad-accum N (1)\n"
    "  schedule: --max-steps N (300) --lr X (3e-3) --min-lr X (lr / 10) --warmup-steps N (0)\n"
    "            --lr-decay-steps N (max steps) --weight-decay X (0) --beta1 X (0.9)\n"
    "            --beta2 X (0.95) --grad-clip X (1.0; 0 = off)\n"
    "  eval:     --eval-every N (100) --eval-iters N (10)\n"
    "  run:      --checkpoint-every N (0 = end only) --resume DIR --seed N (1337) --threads N\n"
    "            --metrics FILE (JSONL) --log-every N (1) --peak-tflops X (0.33, for MFU)\n"
    "            --dtype f32|bf16 (f32; bf16: linear layers multiply in bf16)\n"
    "  MODEL: any checkpoint nabla loads (llama2.c .bin, llm.c .bin, a Hugging Face folder).\n"
    "  NAMES: the model's own module names, e.g. wq,wv (llama2.c), q_proj,v_proj (Hugging\n"
    "  Face Llama), c_attn (GPT-2), all-linear, or a regex over the dotted module name.\n"
    "  DIR (--data) holds train.bin / val.bin from `nabla prepare` with the model's tokenizer.\n"
    "  Checkpoints (adapter + optimizer state) go to OUT/checkpoint; --resume OUT continues\n"
    "  from there with the same flags. Ctrl-C finishes the step, saves and exits.\n"
    "  Data parallel: mpirun -np N nabla finetune ... trains on N x --batch-size rows per step\n"
    "  (the same steps as one process with N times the batch); rank 0 logs and writes;\n"
    "  --overlap-grad-reduce 0|1 (1) as in nabla train.\n";

struct FinetuneArgs {
  std::string base, data, out, resume;
  lora::LoraConfig lora{.r = 8, .alpha = 16};
  train::TrainOptions train;
  int64_t batch_size = 16, block_size = 128, threads = 0;
  uint64_t seed = 1337;
};

FinetuneArgs parse(const Args& args) {
  FinetuneArgs f;
  f.train.max_steps = 300;
  f.train.lr = 3e-3;
  f.train.min_lr = -1;  // lr / 10 unless given
  f.train.warmup_steps = 0;
  f.train.weight_decay = 0.0;
  f.train.eval_every = 100;
  f.train.eval_iters = 10;
  const std::string cmd = "finetune";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      std::exit(0);  // NOLINT(concurrency-mt-unsafe): the cli layer may exit
    }
    NABLA_CHECK(i + 1 < args.size(), cmd, ": ", a, " needs a value\n", kUsage);
    const std::string& v = args[++i];
    if (parse_train_flag(cmd, a, v, f.train))
      continue;
    if (a == "--base")
      f.base = v;
    else if (a == "--data")
      f.data = v;
    else if (a == "--out")
      f.out = v;
    else if (a == "--resume")
      f.resume = v;
    else if (a == "--lora-targets")
      f.lora.target_modules = lora::TargetModules::parse(v);
    else if (a == "--lora-r")
      f.lora.r = parse_int(cmd, a, v);
    else if (a == "--lora-alpha")
      f.lora.alpha = parse_double(cmd, a, v);
    else if (a == "--lora-dropout")
      f.lora.dropout = parse_double(cmd, a, v);
    else if (a == "--batch-size")
      f.batch_size = parse_int(cmd, a, v);
    else if (a == "--block-size")
      f.block_size = parse_int(cmd, a, v);
    else if (a == "--seed")
      f.seed = static_cast<uint64_t>(parse_int(cmd, a, v));
    else if (a == "--threads")
      f.threads = parse_int(cmd, a, v);
    else if (a == "--metrics")
      f.train.metrics_path = v;
    else
      NABLA_CHECK(false, cmd, ": unknown flag ", a, "\n", kUsage);
  }
  NABLA_CHECK(
      !f.base.empty() && !f.data.empty() && !f.out.empty() && !f.lora.target_modules.empty(), cmd,
      ": --base, --data, --out and --lora-targets are required\n", kUsage);
  NABLA_CHECK(
      f.train.sample_every == 0, cmd,
      ": --sample-every is not supported; try the adapter with nabla generate --lora OUT");
  NABLA_CHECK(
      f.batch_size > 0 && f.block_size > 0 && f.threads >= 0, cmd,
      ": --batch-size and --block-size must be positive and --threads non-negative");
  if (f.train.min_lr < 0)
    f.train.min_lr = f.train.lr / 10;
  return f;
}

/// Throws unless the adapter checkpoint in dir was made with this run's --lora-* flags (a
/// resumed run with other ones would not continue the same training); warns (when warn) if
/// it was trained on another base.
void check_same_lora(
    nn::Module& model, const std::string& dir, const lora::LoraConfig& want, bool warn) {
  const lora::LoraConfig got = lora::load_adapter_config(dir);
  const std::string file = (fs::path(dir) / lora::kAdapterConfigName).string();
  const auto targets = lora::find_targets(model, got.target_modules);
  std::vector<std::string> adapted;
  for (const auto& [n, a] : lora::lora_adapters(model)) adapted.push_back(n);
  NABLA_CHECK(
      got.r == want.r && got.alpha == want.alpha && got.dropout == want.dropout &&
          targets == adapted,
      "finetune: cannot resume: the checkpoint's adapter (", file, ") has r = ", got.r,
      ", lora_alpha = ", got.alpha, ", lora_dropout = ", got.dropout, ", target_modules '",
      got.target_modules.str(), "' (", targets.size(), " modules); this run has --lora-r ", want.r,
      " --lora-alpha ", want.alpha, " --lora-dropout ", want.dropout, " --lora-targets '",
      want.target_modules.str(), "' (", adapted.size(),
      " modules)\n---> HINT: resume with the flags of the run that wrote the checkpoint");
  if (warn && !got.base_model_name_or_path.empty() &&
      got.base_model_name_or_path != want.base_model_name_or_path) {
    std::cerr << "warning: finetune: the checkpoint was trained on " << got.base_model_name_or_path
              << ", this run's --base is " << want.base_model_name_or_path << "\n";
  }
}

}  // namespace

int cmd_finetune(const Args& args) {
  FinetuneArgs f = parse(args);
  dist::Communicator& comm = start_ranks(f.threads);
  const bool main_rank = comm.rank() == 0;
  manual_seed(f.seed);
  auto model = generation::load_causal_lm(f.base);
  const data::DatasetInfo info = data::read_dataset_info(f.data);
  NABLA_CHECK(
      info.vocab_size <= model->vocab_size(), "finetune: the dataset's vocabulary (",
      info.vocab_size, " tokens) does not fit the model's (", model->vocab_size(),
      "); prepare the data with the model's tokenizer");
  f.lora.base_model_name_or_path = f.base;
  lora::apply_lora(*model, f.lora);
  if (main_rank)
    lora::print_trainable_parameters(*model, std::cout);
  data::TokenLoader train_data = open_rank_loader(
      f.data, "train", f.batch_size, f.block_size, data::Sampling::Random, f.seed, comm);
  data::TokenLoader val_data = open_rank_loader(
      f.data, "val", f.batch_size, f.block_size, data::Sampling::Sequential, f.seed, comm);
  f.train.out_dir = f.out;
  train_on_ranks(f.train, comm, std::cout);
  f.train.save_model = [&](const std::string& dir) { lora::save_adapter(*model, dir, f.lora); };
  f.train.load_model = [&](const std::string& dir) {
    check_same_lora(*model, dir, f.lora, main_rank);
    lora::load_adapter(*model, dir, /*is_trainable=*/true);
  };
  bool warned = !main_rank;
  f.train.on_step = [&](const train::StepStats& /*s*/) {
    if (!warned)
      lora::warn_if_untrained(*model, std::cerr);  // after the first step B must have moved
    warned = true;
  };
  // Every rank starts from rank 0's adapter (the frozen base is each rank's own load of --base).
  train::Trainer trainer(*model, train_data, &val_data, f.train);
  if (!f.resume.empty()) {
    trainer.resume(f.resume);
    if (main_rank)
      std::cout << "resumed from " << f.resume << " at step " << trainer.step() << "\n";
  }
  const double val_before = trainer.evaluate();  // a collective: every rank evaluates
  if (main_rank)
    std::cout << "val loss at step " << trainer.step() << ": " << val_before << "\n";
  train::install_stop_handler();
  const train::FitResult r = trainer.fit();
  const double val_after = r.val_loss ? *r.val_loss : trainer.evaluate();
  if (!main_rank)
    return 0;
  lora::save_adapter(*model, f.out, f.lora);
  std::cout << (r.interrupted ? "interrupted" : "done") << " at step " << r.step << ": val loss "
            << val_after << "\nadapter written to " << f.out << "/" << lora::kAdapterConfigName
            << " and " << lora::kAdapterWeightsName << "; checkpoint in " << r.checkpoint << "\n";
  return 0;
}

}  // namespace nabla::cli
