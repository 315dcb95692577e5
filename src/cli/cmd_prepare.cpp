// nabla prepare: text files -> a dataset directory (tokenizer, train.bin, val.bin, meta.json).
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "flags.h"
#include "nabla/core/error.h"
#include "nabla/data/prepare.h"

namespace nabla::cli {
namespace {

constexpr const char* kUsage =
    "usage: nabla prepare --input FILE [FILE...] --out DIR [--tokenizer char|gpt2|SPEC]\n"
    "                     [--encoder FILE --merges FILE] [--val-fraction 0.1]\n"
    "  Tokenizes the files (concatenated in order) and writes DIR/train.bin, DIR/val.bin\n"
    "  (the last --val-fraction of the text), DIR/meta.json and the tokenizer.\n"
    "  --tokenizer char (default): one token per distinct byte of the text (nanoGPT's\n"
    "    shakespeare_char); gpt2: GPT-2 BPE from --encoder/--merges, else from $NABLA_DATA_DIR\n"
    "    (gpt2_encoder.json + gpt2_vocab.bpe, or encoder.json + vocab.bpe); SPEC: a GPT-2\n"
    "    directory, a saved char vocabulary or a llama2.c tokenizer.bin.\n";

// GPT-2's two files under $NABLA_DATA_DIR, by either naming.
void find_gpt2_files(data::PrepareOptions& o) {
  namespace fs = std::filesystem;
  const char* env = std::getenv("NABLA_DATA_DIR");
  NABLA_CHECK(env != nullptr, "prepare: --tokenizer gpt2 needs --encoder FILE --merges FILE or "
              "NABLA_DATA_DIR naming a directory with GPT-2's encoder.json and vocab.bpe");
  for (const auto& [enc, bpe] : {std::pair{"gpt2_encoder.json", "gpt2_vocab.bpe"},
                                 std::pair{"encoder.json", "vocab.bpe"}}) {
    if (fs::exists(fs::path(env) / enc) && fs::exists(fs::path(env) / bpe)) {
      o.gpt2_encoder = (fs::path(env) / enc).string();
      o.gpt2_merges = (fs::path(env) / bpe).string();
      return;
    }
  }
  NABLA_CHECK(false, "prepare: NABLA_DATA_DIR=", env, " holds neither gpt2_encoder.json + "
              "gpt2_vocab.bpe nor encoder.json + vocab.bpe");
}

}  // namespace

int cmd_prepare(const Args& args) {
  data::PrepareOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      NABLA_CHECK(i + 1 < args.size(), "prepare: ", a, " needs a value\n", kUsage);
      return args[++i];
    };
    if (a == "--input") {
      o.inputs.push_back(value());
      while (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) o.inputs.push_back(args[++i]);
    } else if (a == "--out") {
      o.out_dir = value();
    } else if (a == "--tokenizer") {
      o.tokenizer = value();
    } else if (a == "--encoder") {
      o.gpt2_encoder = value();
    } else if (a == "--merges") {
      o.gpt2_merges = value();
    } else if (a == "--val-fraction") {
      o.val_fraction = parse_double("prepare", a, value());
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      NABLA_CHECK(false, "prepare: unknown argument '", a, "'\n", kUsage);
    }
  }
  NABLA_CHECK(!o.inputs.empty() && !o.out_dir.empty(), "prepare: --input and --out are required\n",
              kUsage);
  NABLA_CHECK(o.gpt2_encoder.empty() == o.gpt2_merges.empty(),
              "prepare: give both --encoder and --merges");
  if (o.tokenizer == "gpt2" && o.gpt2_encoder.empty()) find_gpt2_files(o);
  const data::DatasetInfo info = data::prepare_dataset(o);
  std::cout << "prepared " << o.out_dir << ": " << info.train_tokens << " train tokens, "
            << info.val_tokens << " val tokens, " << info.tokenizer_kind << " tokenizer with "
            << info.vocab_size << " tokens (" << info.tokenizer_path << ")\n";
  return 0;
}

}  // namespace nabla::cli
