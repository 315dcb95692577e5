// nabla generate: text from a checkpoint, as llama2.c's run.c prints it: the prompt and then
// each generated token streamed to stdout, the speed in tokens/s on stderr. Under
// `mpirun -np N` the model is split over the ranks (tensor parallelism); every rank computes
// the same tokens and rank 0 alone prints.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>

#include "commands.h"
#include "nabla/core/error.h"
#include "nabla/dist/communicator.h"
#include "nabla/generate/generate.h"
#include "nabla/generate/load.h"
#include "nabla/lora/adapter_io.h"
#include "nabla/lora/lora.h"
#include "nabla/ops/creation.h"
#include "nabla/ops/quantized.h"
#include "nabla/tokenizers/tokenizer.h"

namespace nabla::cli {
namespace {

constexpr const char* kUsage =
    "usage: nabla generate --model PATH --tokenizer PATH (--prompt TEXT | --prompts-file FILE)\n"
    "                      [--steps N] [--temperature T] [--top-p P] [--top-k K] [--min-p P]\n"
    "                      [--repetition-penalty R] [--seed S] [--max-batch-size N] [--lora DIR]\n"
    "                      [--dtype f32|bf16|int8]\n"
    "  --model: a llama2.c checkpoint (.bin), an llm.c GPT-2 .bin, or a folder: Hugging Face\n"
    "  (config.json + safetensors; GPT-2 or Llama), Meta's (params.json + .pth) or a\n"
    "  tensor-parallel checkpoint of any shard count (nabla shard).\n"
    "  --tokenizer: a llama2.c tokenizer.bin, or a folder with GPT-2's encoder.json + vocab.bpe.\n"
    "  --steps: positions counted from BOS, prompt included, as llama2.c's -n (default 256;\n"
    "  0 or more than the model's max_seq_len - 1 means max_seq_len - 1).\n"
    "  --temperature (default 1.0; 0 is greedy), --top-p (default 0.9; 1 is off), --top-k\n"
    "  (default 0: off), --min-p (default 0), --repetition-penalty (default 1: none).\n"
    "  --seed: sampling seed (default: random, printed on stderr).\n"
    "  --prompts-file: one prompt per line, generated in batches of --max-batch-size (default\n"
    "  8); each completion is printed on its own line once its batch is done.\n"
    "  --lora: a LoRA adapter folder (PEFT's format, e.g. from nabla finetune), merged into the\n"
    "  model's weights before generating.\n"
    "  --dtype: how the Linear weights are held: f32 (default), bf16, or int8 in blocks of 32\n"
    "  with a scale each (Q8_0); fewer bytes per weight decode faster (BENCHMARKS.md).\n"
    "  With one prompt the text streams to stdout token by token. Speeds go to stderr.\n"
    "  Under mpirun -np N the model's heads and hidden units are split over the N ranks\n"
    "  (tensor parallelism; N must divide the number of key/value heads); rank 0 prints.\n";

struct Options {
  std::string model, tokenizer, prompt, prompts_file, lora;
  WeightFormat dtype = WeightFormat::F32;
  bool has_prompt = false, help = false;
  int64_t steps = 256, top_k = 0, max_batch_size = 8;
  double temperature = 1.0, top_p = 0.9, min_p = 0.0, repetition_penalty = 1.0;
  std::optional<uint64_t> seed;
};

template <typename T>
T parse_number(const std::string& flag, const std::string& v) {
  T x{};
  const auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  NABLA_CHECK(r.ec == std::errc() && r.ptr == v.data() + v.size() && !v.empty(), "generate: ",
              flag, " expects a number, got '", v, "'");
  return x;
}

Options parse(const Args& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      NABLA_CHECK(i + 1 < args.size(), "generate: ", a, " needs a value\n", kUsage);
      return args[++i];
    };
    if (a == "--model") {
      o.model = value();
    } else if (a == "--lora") {
      o.lora = value();
    } else if (a == "--dtype") {
      o.dtype = weight_format_from_name(value());
    } else if (a == "--tokenizer") {
      o.tokenizer = value();
    } else if (a == "--prompt") {
      o.prompt = value();
      o.has_prompt = true;
    } else if (a == "--prompts-file") {
      o.prompts_file = value();
    } else if (a == "--steps") {
      o.steps = parse_number<int64_t>(a, value());
    } else if (a == "--temperature") {
      o.temperature = parse_number<double>(a, value());
    } else if (a == "--top-p") {
      o.top_p = parse_number<double>(a, value());
    } else if (a == "--top-k") {
      o.top_k = parse_number<int64_t>(a, value());
    } else if (a == "--min-p") {
      o.min_p = parse_number<double>(a, value());
    } else if (a == "--repetition-penalty") {
      o.repetition_penalty = parse_number<double>(a, value());
    } else if (a == "--seed") {
      o.seed = parse_number<uint64_t>(a, value());
    } else if (a == "--max-batch-size") {
      o.max_batch_size = parse_number<int64_t>(a, value());
    } else if (a == "--help" || a == "-h") {
      o.help = true;
    } else {
      NABLA_CHECK(false, "generate: unknown argument '", a, "'\n", kUsage);
    }
  }
  if (o.help) return o;
  NABLA_CHECK(!o.model.empty() && !o.tokenizer.empty(),
              "generate: --model and --tokenizer are required\n", kUsage);
  NABLA_CHECK(o.has_prompt != !o.prompts_file.empty(),
              "generate: give exactly one of --prompt and --prompts-file\n", kUsage);
  NABLA_CHECK(o.steps >= 0, "generate: --steps must be >= 0, got ", o.steps);
  NABLA_CHECK(o.max_batch_size > 0, "generate: --max-batch-size must be > 0, got ",
              o.max_batch_size);
  return o;
}

std::vector<std::string> read_prompts(const std::string& path) {
  std::ifstream in(path);
  NABLA_CHECK_IO(in.good(), "generate: cannot open prompts file ", path);
  std::vector<std::string> prompts;
  for (std::string line; std::getline(in, line);) prompts.push_back(line);
  NABLA_CHECK(!prompts.empty(), "generate: the prompts file ", path, " holds no prompt");
  return prompts;
}

// run.c's safe_printf: a piece that is a single non-printable, non-space byte is not printed
// (raw byte tokens such as <0x07>); anything else, multi-byte UTF-8 included, is.
void print_text(const std::string& text) {
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80 && !(std::isprint(c) || std::isspace(c))) continue;
    out.push_back(ch);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Token ids of prompts[first, first + n): BOS where the tokenizer adds it (an empty prompt is
// BOS alone, as in run.c); each must fit in steps + 1 positions.
std::vector<std::vector<int64_t>> encode_batch(const tokenizers::Tokenizer& tok,
                                               const std::vector<std::string>& prompts,
                                               size_t first, size_t n, int64_t steps) {
  std::vector<std::vector<int64_t>> batch;
  for (size_t i = first; i < first + n; ++i) {
    const std::vector<int32_t> ids = tok.encode(prompts[i]);
    batch.emplace_back(ids.begin(), ids.end());
    if (batch.back().empty() && tok.bos_id()) batch.back().push_back(*tok.bos_id());
    NABLA_CHECK(!batch.back().empty(), "generate: prompt ", i, " encodes to no tokens");
    NABLA_CHECK(static_cast<int64_t>(batch.back().size()) <= steps + 1, "generate: prompt ", i,
                " has ", batch.back().size(), " tokens, more than --steps ", steps);
  }
  return batch;
}

// The text of a prompt as run.c prints it: everything after a leading BOS (llama2.c's BOS
// decodes to nothing anyway; GPT-2's <|endoftext|> would print its name).
std::string prompt_text(tokenizers::StreamDecoder& decoder, const tokenizers::Tokenizer& tok,
                        const std::vector<int64_t>& prompt) {
  std::string text;
  for (size_t i = 0; i < prompt.size(); ++i) {
    const std::string piece = decoder.push(static_cast<int32_t>(prompt[i]));
    if (i > 0 || prompt[0] != tok.bos_id().value_or(-1)) text += piece;
  }
  return text;
}

// Generates one batch: a single row streams its text (prompt first) token by token; several
// rows print each text on its own line at the end. Speeds go to stderr.
// Only the printing rank (rank 0 under mpirun) writes; the others generate alongside it.
void run_batch(models::CausalLM& model, const tokenizers::Tokenizer& tok,
               const std::vector<std::vector<int64_t>>& batch, generation::GenerateOptions g,
               int64_t steps, bool print) {
  int64_t min_len = INT64_MAX, prompt_tokens = 0, generated = 0;
  for (const auto& p : batch) {
    min_len = std::min<int64_t>(min_len, static_cast<int64_t>(p.size()));
    prompt_tokens += static_cast<int64_t>(p.size());
  }
  g.max_gen_len = steps + 1 - min_len;  // rows with longer prompts stop at max_seq_len
  const bool stream = print && batch.size() == 1;
  tokenizers::StreamDecoder decoder(tok);
  if (stream) print_text(prompt_text(decoder, tok, batch[0]));
  const auto t0 = std::chrono::steady_clock::now();
  double t_first = -1.0;
  g.on_token = [&](int64_t, int64_t id) {
    if (t_first < 0) t_first = seconds_since(t0);
    ++generated;
    if (stream) print_text(decoder.push(static_cast<int32_t>(id)));
  };
  const generation::GenerationResult res = generation::generate(model, batch, g);
  const double total = seconds_since(t0);
  if (stream) print_text(decoder.finish() + "\n");
  if (!print) return;
  for (size_t b = 0; !stream && b < batch.size(); ++b) {
    tokenizers::StreamDecoder row(tok);
    std::string text = prompt_text(row, tok, batch[b]);
    for (const int64_t id : res.tokens[b]) text += row.push(static_cast<int32_t>(id));
    print_text(text + row.finish() + "\n");
  }
  if (t_first < 0) t_first = total;
  std::fprintf(stderr, "prompt: %lld tokens, %.1f tok/s; generation: %lld tokens, %.1f tok/s\n",
               static_cast<long long>(prompt_tokens), prompt_tokens / std::max(t_first, 1e-9),
               static_cast<long long>(generated),
               static_cast<double>(std::max<int64_t>(generated - 1, 0)) /
                   std::max(total - t_first, 1e-9));
}

// The sampling seed of every rank: --seed, else one drawn by rank 0. Ranks that sample the
// same logits (tensor parallelism gives each the same bytes) with it choose the same tokens.
uint64_t common_seed(dist::Communicator& comm, std::optional<uint64_t> seed) {
  if (seed) return *seed;
  const Tensor t = empty({1}, kInt64);
  t.data<int64_t>()[0] = static_cast<int64_t>(std::random_device{}());
  comm.broadcast(t, 0);
  return static_cast<uint64_t>(t.data<int64_t>()[0]);
}

}  // namespace

int cmd_generate(const Args& args) {
  Options o = parse(args);
  if (o.help) {
    std::cout << kUsage;
    return 0;
  }
  dist::Communicator& comm = dist::Communicator::world();
  const bool main_rank = comm.rank() == 0;
  dist::share_cores(comm);
  std::shared_ptr<models::CausalLM> model = generation::load_causal_lm(o.model);
  if (!o.lora.empty()) {
    // Merged, generation costs what the base model costs (outputs equal unmerged to 1e-5).
    lora::load_adapter(*model, o.lora);
    lora::merge(*model);
  }
  if (comm.is_distributed()) {
    model->shard_for_tensor_parallel(comm);
    if (main_rank) {
      std::fprintf(stderr, "tensor parallel: %s split over %d ranks\n", model->name().c_str(),
                   comm.world_size());
    }
  }
  // After merging and splitting, which work on the f32 weights.
  if (o.dtype != WeightFormat::F32) model->pack_weights(o.dtype);
  const std::unique_ptr<tokenizers::Tokenizer> tok =
      tokenizers::load_tokenizer(o.tokenizer, model->vocab_size());
  const int64_t max_steps = model->max_seq_len() - 1;  // the cache holds steps + 1 positions
  const int64_t steps = (o.steps == 0 || o.steps > max_steps) ? max_steps : o.steps;
  o.seed = common_seed(comm, o.seed);
  if (main_rank) std::fprintf(stderr, "seed %llu\n", static_cast<unsigned long long>(*o.seed));
  const std::vector<std::string> prompts =
      o.has_prompt ? std::vector<std::string>{o.prompt} : read_prompts(o.prompts_file);
  generation::GenerateOptions g{.temperature = o.temperature, .top_p = o.top_p,
                                .top_k = o.top_k, .min_p = o.min_p,
                                .repetition_penalty = o.repetition_penalty, .seed = o.seed};
  g.stop_tokens = generation::default_stop_tokens(*tok);
  g.max_seq_len = steps + 1;
  const auto per_batch = static_cast<size_t>(o.max_batch_size);
  for (size_t first = 0; first < prompts.size(); first += per_batch) {
    const size_t n = std::min(prompts.size() - first, per_batch);
    run_batch(*model, *tok, encode_batch(*tok, prompts, first, n, steps), g, steps, main_rank);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace nabla::cli
