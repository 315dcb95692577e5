// nabla tokenize: encodes stdin to space-separated token ids (one final newline), or with
// --decode turns ids on stdin back into the exact bytes.
#include <charconv>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

#include "commands.h"
#include "nabla/core/error.h"
#include "nabla/tokenizers/gpt2_bpe.h"
#include "nabla/tokenizers/tokenizer.h"

namespace nabla::cli {
namespace {

constexpr const char* kUsage =
    "usage: nabla tokenize (--tokenizer SPEC | --encoder FILE --merges FILE) [--decode]\n"
    "                      [--vocab-size N] [--allow-special]\n"
    "  SPEC: a directory with encoder.json + vocab.bpe (GPT-2), a llama2.c tokenizer.bin\n"
    "        (--vocab-size: the model's; default: all records in the file) or a char vocab.\n"
    "  Reads text on stdin and writes token ids separated by spaces and a newline; with\n"
    "  --decode reads ids and writes the text. --allow-special: GPT-2's <|endoftext|> in the\n"
    "  text becomes its id.\n";

struct Options {
  std::string tokenizer, encoder, merges;
  int64_t vocab_size = -1;
  bool decode = false, allow_special = false, help = false;
};

Options parse(const Args& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      NABLA_CHECK(i + 1 < args.size(), "tokenize: ", a, " needs a value\n", kUsage);
      return args[++i];
    };
    if (a == "--tokenizer") {
      o.tokenizer = value();
    } else if (a == "--encoder") {
      o.encoder = value();
    } else if (a == "--merges") {
      o.merges = value();
    } else if (a == "--vocab-size") {
      const std::string& v = value();
      const auto r = std::from_chars(v.data(), v.data() + v.size(), o.vocab_size);
      NABLA_CHECK(r.ec == std::errc() && r.ptr == v.data() + v.size() && o.vocab_size > 0,
                  "tokenize: --vocab-size expects a positive integer, got '", v, "'");
    } else if (a == "--decode") {
      o.decode = true;
    } else if (a == "--allow-special") {
      o.allow_special = true;
    } else if (a == "--help" || a == "-h") {
      o.help = true;
    } else {
      NABLA_CHECK(false, "tokenize: unknown argument '", a, "'\n", kUsage);
    }
  }
  const bool pair = !o.encoder.empty() || !o.merges.empty();
  const bool valid = (!o.tokenizer.empty() && !pair) ||
                     (o.tokenizer.empty() && !o.encoder.empty() && !o.merges.empty());
  NABLA_CHECK(o.help || valid, "tokenize: give either --tokenizer SPEC or both --encoder and "
                               "--merges\n", kUsage);
  return o;
}

std::vector<int32_t> read_ids(const std::string& text, int64_t vocab_size) {
  std::vector<int32_t> ids;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    int64_t id = -1;
    const auto r = std::from_chars(word.data(), word.data() + word.size(), id);
    NABLA_CHECK(r.ec == std::errc() && r.ptr == word.data() + word.size() && id >= 0 &&
                    id < vocab_size,
                "tokenize --decode: '", word, "' is not a token id in [0, ", vocab_size, ")");
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

}  // namespace

int cmd_tokenize(const Args& args) {
  const Options o = parse(args);
  if (o.help) {
    std::cout << kUsage;
    return 0;
  }
  std::unique_ptr<tokenizers::Tokenizer> tok =
      o.tokenizer.empty() ? std::make_unique<tokenizers::GPT2Tokenizer>(o.encoder, o.merges)
                          : tokenizers::load_tokenizer(o.tokenizer, o.vocab_size);
  const std::string input((std::istreambuf_iterator<char>(std::cin)),
                          std::istreambuf_iterator<char>());
  if (o.decode) {
    const std::string text = tok->decode(read_ids(input, tok->vocab_size()));
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  std::vector<int32_t> ids;
  if (o.allow_special) {
    const auto* gpt2 = dynamic_cast<const tokenizers::GPT2Tokenizer*>(tok.get());
    NABLA_CHECK(gpt2 != nullptr, "tokenize: --allow-special needs a GPT-2 tokenizer");
    ids = gpt2->encode(input, gpt2->special_tokens());
  } else {
    ids = tok->encode(input);
  }
  std::string out;
  out.reserve(ids.size() * 6 + 1);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ' ';
    out += std::to_string(ids[i]);
  }
  out += '\n';
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace nabla::cli
