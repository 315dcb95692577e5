// The nabla subcommands: each cmd_<name>.cpp defines one function taking the arguments after
// the command name and returning the exit code; errors are thrown as nabla::Error.
#pragma once

#include <string>
#include <vector>

namespace nabla::cli {

using Args = std::vector<std::string>;

/// nabla generate: text from a checkpoint and a tokenizer, streamed as llama2.c's run.c does.
int cmd_generate(const Args& args);

/// nabla shard: a checkpoint -> a tensor-parallel checkpoint of N shards.
int cmd_shard(const Args& args);

/// nabla tokenize: text on stdin -> token ids on stdout, or the reverse with --decode.
int cmd_tokenize(const Args& args);
/// nabla prepare: text files -> tokenizer + train/val token shards.
int cmd_prepare(const Args& args);
/// nabla train: GPT-2 pretraining on a prepared dataset.
int cmd_train(const Args& args);
/// nabla finetune: LoRA fine-tuning of a checkpoint; writes a PEFT adapter.
int cmd_finetune(const Args& args);
/// nabla bench: training-step and decode speed as JSON (bench/compare.py adds PyTorch's).
int cmd_bench(const Args& args);

}  // namespace nabla::cli
