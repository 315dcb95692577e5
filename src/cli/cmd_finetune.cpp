// nabla finetune: LoRA fine-tuning of any checkpoint nabla loads on a prepared dataset
// (`nabla prepare`): adapters on --lora-targets, the base frozen, train::Trainer's loop, and
// the adapter written to --out in PEFT's format (adapter_config.json + adapter_model.safetensors).
#include <iostream>
#include <string>

#include "commands.h"
#include "flags.h"
#include "nabla/core/rng.h"
#include "nabla/core/threads.h"
#include "nabla/data/loader.h"
#include "nabla/data/prepare.h"
#include "nabla/data/shard.h"
#include "nabla/generate/load.h"
#include "nabla/lora/adapter_io.h"
#include "nabla/lora/lora.h"
#include "nabla/train/trainer.h"

namespace nabla::cli {

namespace {

constexpr const char* kUsage =
    "usage: nabla finetune --base MODEL --data DIR --out DIR --lora-targets NAMES\n"
    "                      [--lora-r 8] [--lora-alpha 16] [--lora-dropout 0]\n"
    "                      [--max-steps 300] [--batch-size 16] [--block-size 128] [--lr 3e-3]\n"
    "                      [--warmup-steps 0] [--weight-decay 0] [--grad-clip 1]\n"
    "                      [--eval-every 100] [--eval-iters 10] [--seed 1337] [--threads N]\n"
    "                      [--metrics FILE]\n"
    "  MODEL: any checkpoint nabla loads (llama2.c .bin, llm.c .bin, a Hugging Face folder).\n"
    "  NAMES: the model's own module names, e.g. wq,wv (llama2.c), q_proj,v_proj (Hugging\n"
    "  Face Llama), c_attn (GPT-2), all-linear, or a regex over the dotted module name.\n"
    "  DIR (--data) holds train.bin / val.bin from `nabla prepare` with the model's tokenizer.\n";

struct FinetuneArgs {
  std::string base, data, out;
  lora::LoraConfig lora{.r = 8, .alpha = 16};
  train::TrainOptions train;
  int64_t batch_size = 16, block_size = 128, threads = 0;
  uint64_t seed = 1337;
};

FinetuneArgs parse(const Args& args) {
  FinetuneArgs f;
  f.train.max_steps = 300;
  f.train.lr = 3e-3;
  f.train.min_lr = 3e-4;
  f.train.warmup_steps = 0;
  f.train.weight_decay = 0.0;
  f.train.eval_every = 100;
  f.train.eval_iters = 10;
  f.train.log = &std::cout;
  const std::string cmd = "finetune";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      std::exit(0);  // NOLINT(concurrency-mt-unsafe): the cli layer may exit
    }
    NABLA_CHECK(i + 1 < args.size(), cmd, ": ", a, " needs a value\n", kUsage);
    const std::string& v = args[++i];
    if (a == "--base")
      f.base = v;
    else if (a == "--data")
      f.data = v;
    else if (a == "--out")
      f.out = v;
    else if (a == "--lora-targets")
      f.lora.target_modules = lora::TargetModules::parse(v);
    else if (a == "--lora-r")
      f.lora.r = parse_int(cmd, a, v);
    else if (a == "--lora-alpha")
      f.lora.alpha = parse_double(cmd, a, v);
    else if (a == "--lora-dropout")
      f.lora.dropout = parse_double(cmd, a, v);
    else if (a == "--max-steps")
      f.train.max_steps = parse_int(cmd, a, v);
    else if (a == "--batch-size")
      f.batch_size = parse_int(cmd, a, v);
    else if (a == "--block-size")
      f.block_size = parse_int(cmd, a, v);
    else if (a == "--lr")
      f.train.lr = parse_double(cmd, a, v), f.train.min_lr = f.train.lr / 10;
    else if (a == "--warmup-steps")
      f.train.warmup_steps = parse_int(cmd, a, v);
    else if (a == "--weight-decay")
      f.train.weight_decay = parse_double(cmd, a, v);
    else if (a == "--grad-clip")
      f.train.grad_clip = parse_double(cmd, a, v);
    else if (a == "--eval-every")
      f.train.eval_every = parse_int(cmd, a, v);
    else if (a == "--eval-iters")
      f.train.eval_iters = parse_int(cmd, a, v);
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
  return f;
}

}  // namespace

int cmd_finetune(const Args& args) {
  FinetuneArgs f = parse(args);
  if (f.threads > 0)
    set_num_threads(static_cast<int>(f.threads));
  manual_seed(f.seed);
  auto model = generation::load_causal_lm(f.base);
  const data::DatasetInfo info = data::read_dataset_info(f.data);
  NABLA_CHECK(
      info.vocab_size <= model->vocab_size(), "finetune: the dataset's vocabulary (",
      info.vocab_size, " tokens) does not fit the model's (", model->vocab_size(),
      "); prepare the data with the model's tokenizer");
  f.lora.base_model_name_or_path = f.base;
  lora::apply_lora(*model, f.lora);
  lora::print_trainable_parameters(*model, std::cout);
  data::TokenLoader train_data(
      data::Shard::open(f.data + "/train.bin"), f.batch_size, f.block_size, data::Sampling::Random,
      f.seed);
  data::TokenLoader val_data(
      data::Shard::open(f.data + "/val.bin"), f.batch_size, f.block_size,
      data::Sampling::Sequential, f.seed);
  train::Trainer trainer(*model, train_data, &val_data, f.train);
  std::cout << "val loss before: " << trainer.evaluate() << "\n";
  const train::FitResult r = trainer.fit();
  lora::warn_if_untrained(*model, std::cerr);
  lora::save_adapter(*model, f.out, f.lora);
  std::cout << "val loss after " << r.step
            << " steps: " << (r.val_loss ? *r.val_loss : trainer.evaluate())
            << "\nadapter written to " << f.out << "/" << lora::kAdapterConfigName << " and "
            << lora::kAdapterWeightsName << "\n";
  return 0;
}

}  // namespace nabla::cli
