// prepare_dataset: text files -> tokenizer + train/val token shards + meta.json in one folder.
#include "nabla/data/prepare.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "io/io_util.h"
#include "nabla/core/error.h"
#include "nabla/data/shard.h"
#include "nabla/tokenizers/char_tokenizer.h"
#include "nabla/tokenizers/gpt2_bpe.h"

namespace nabla::data {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  NABLA_CHECK_IO(in.good(), "prepare: cannot open input ", path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  NABLA_CHECK_IO(!in.bad(), "prepare: error reading ", path);
  return text;
}

void write_text_atomic(const std::string& path, const std::string& text) {
  io::detail::AtomicWriter w(path, "prepare");
  w.write(text.data(), text.size());
  w.commit();
}

// The tokenizer, saved into the dataset directory; returns its kind and its path there.
std::unique_ptr<tokenizers::Tokenizer> make_tokenizer(const PrepareOptions& o,
                                                      const std::string& corpus,
                                                      DatasetInfo& info) {
  const fs::path dir(o.out_dir);
  if (o.tokenizer == "char") {
    auto tok = tokenizers::CharTokenizer::from_corpus(corpus);
    info.tokenizer_path = (dir / "tokenizer.json").string();
    tok.save(info.tokenizer_path);
    info.tokenizer_kind = "char";
    return std::make_unique<tokenizers::CharTokenizer>(std::move(tok));
  }
  std::unique_ptr<tokenizers::Tokenizer> tok;
  std::string encoder = o.gpt2_encoder, merges = o.gpt2_merges;
  if (encoder.empty() && fs::is_directory(o.tokenizer)) {
    encoder = (fs::path(o.tokenizer) / "encoder.json").string();
    merges = (fs::path(o.tokenizer) / "vocab.bpe").string();
  }
  if (!encoder.empty()) {
    tok = std::make_unique<tokenizers::GPT2Tokenizer>(encoder, merges);
    write_text_atomic((dir / "encoder.json").string(), read_file(encoder));
    write_text_atomic((dir / "vocab.bpe").string(), read_file(merges));
    info.tokenizer_path = dir.string();
  } else {
    tok = tokenizers::load_tokenizer(o.tokenizer);
    const std::string file = tok->name() == "char" ? "tokenizer.json" : "tokenizer.bin";
    info.tokenizer_path = (dir / file).string();
    write_text_atomic(info.tokenizer_path, read_file(o.tokenizer));
  }
  info.tokenizer_kind = tok->name();
  return tok;
}

// Byte offset of the train/val split: floor(n * (1 - f)), moved forward past UTF-8
// continuation bytes so that no character is cut in two.
size_t split_point(const std::string& text, double val_fraction) {
  auto at = static_cast<size_t>(static_cast<double>(text.size()) * (1.0 - val_fraction));
  while (at < text.size() && (static_cast<uint8_t>(text[at]) & 0xC0) == 0x80) ++at;
  return at;
}

}  // namespace

DatasetInfo prepare_dataset(const PrepareOptions& o) {
  NABLA_CHECK(!o.inputs.empty(), "prepare: no input files");
  NABLA_CHECK(!o.out_dir.empty(), "prepare: no output directory");
  NABLA_CHECK(o.val_fraction >= 0.0 && o.val_fraction < 1.0,
              "prepare: val fraction must be in [0, 1), got ", o.val_fraction);
  std::vector<std::string> texts;
  std::string corpus;
  for (const std::string& path : o.inputs) {
    texts.push_back(read_file(path));
    corpus += texts.back();
  }
  NABLA_CHECK(!corpus.empty(), "prepare: the input files hold no text");
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  NABLA_CHECK_IO(!ec && fs::is_directory(o.out_dir), "prepare: cannot create directory ",
                 o.out_dir, ": ", ec.message());
  DatasetInfo info;
  const auto tok = make_tokenizer(o, corpus, info);
  info.vocab_size = tok->vocab_size();
  const std::optional<int32_t> eot = tok->name() == "gpt2" ? tok->eos_id() : std::nullopt;

  const size_t split = split_point(corpus, o.val_fraction);
  std::vector<int32_t> train, val;
  size_t begin = 0;  // of the current file in corpus
  for (const std::string& text : texts) {
    const size_t end = begin + text.size();
    auto encode_into = [&](size_t from, size_t to, std::vector<int32_t>& out, bool file_end) {
      if (from >= to) return;
      const auto ids = tok->encode(std::string_view(corpus).substr(from, to - from));
      out.insert(out.end(), ids.begin(), ids.end());
      if (file_end && eot) out.push_back(*eot);
    };
    encode_into(begin, std::min(end, split), train, end <= split);
    encode_into(std::max(begin, split), end, val, true);
    begin = end;
  }
  NABLA_CHECK(!train.empty(), "prepare: the training split is empty");
  NABLA_CHECK(o.val_fraction == 0.0 || !val.empty(), "prepare: the validation split is empty ",
              "(", corpus.size(), " bytes of text, val fraction ", o.val_fraction, ")");
  info.train_tokens = static_cast<int64_t>(train.size());
  info.val_tokens = static_cast<int64_t>(val.size());
  const fs::path dir(o.out_dir);
  write_shard((dir / "train.bin").string(), train, info.vocab_size);
  write_shard((dir / "val.bin").string(), val, info.vocab_size);
  const nlohmann::json meta = {
      {"format", "nabla-dataset"}, {"version", 1},
      {"tokenizer", info.tokenizer_kind},
      {"tokenizer_path", fs::relative(info.tokenizer_path, dir).string()},
      {"vocab_size", info.vocab_size}, {"train_tokens", info.train_tokens},
      {"val_tokens", info.val_tokens}};
  write_text_atomic((dir / "meta.json").string(), meta.dump(2) + "\n");
  return info;
}

DatasetInfo read_dataset_info(const std::string& dir) {
  const std::string path = (fs::path(dir) / "meta.json").string();
  std::ifstream in(path);
  NABLA_CHECK_IO(in.good(), "dataset: cannot open ", path,
                 "\n---> HINT: create the dataset with nabla prepare --out ", dir);
  DatasetInfo info;
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    NABLA_CHECK_IO(j.at("format") == "nabla-dataset" && j.at("version") == 1, "dataset: ", path,
                   " is not a version-1 nabla dataset description");
    info.tokenizer_kind = j.at("tokenizer").get<std::string>();
    info.tokenizer_path = (fs::path(dir) / j.at("tokenizer_path").get<std::string>()).string();
    info.vocab_size = j.at("vocab_size").get<int64_t>();
    info.train_tokens = j.at("train_tokens").get<int64_t>();
    info.val_tokens = j.at("val_tokens").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    NABLA_CHECK_IO(false, "dataset: ", path, " is malformed: ", e.what());
  }
  NABLA_CHECK_IO(info.vocab_size > 0, "dataset: ", path, " has vocab_size ", info.vocab_size);
  return info;
}

std::unique_ptr<tokenizers::Tokenizer> load_dataset_tokenizer(const DatasetInfo& info) {
  return tokenizers::load_tokenizer(info.tokenizer_path, info.vocab_size);
}

}  // namespace nabla::data
