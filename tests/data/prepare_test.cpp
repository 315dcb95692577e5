// prepare_dataset: the train/val split of nanoGPT's prepare.py, a self-contained directory
// (tokenizer + shards + meta.json) and clear errors for bad inputs.
#include "nabla/data/prepare.h"

#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/data/shard.h"
#include "nabla/tokenizers/gpt2_bpe.h"
#include "tests/testing/fixture.h"
#include "tests/tokenizers/helpers.h"

namespace nabla::data {
namespace {

using ::testing::HasSubstr;
using tokenizers::testing::TempDir;
using tokenizers::testing::write_file;

std::vector<int32_t> ids_of(const Shard& s) {
  std::vector<int64_t> v(static_cast<size_t>(s.size()));
  s.read(0, s.size(), v.data());
  return {v.begin(), v.end()};
}

TEST(Prepare, CharSplitMatchesNanoGptAndRoundTrips) {
  TempDir dir("prepare");
  const std::string a = "hello world\n", b = "the quick brown fox\n";  // 32 bytes
  write_file(dir.file("a.txt"), a);
  write_file(dir.file("b.txt"), b);
  const DatasetInfo info = prepare_dataset(
      {.inputs = {dir.file("a.txt"), dir.file("b.txt")}, .out_dir = dir.file("ds"),
       .tokenizer = "char", .val_fraction = 0.25});
  const std::string text = a + b;
  EXPECT_EQ(info.tokenizer_kind, "char");
  EXPECT_EQ(info.train_tokens, 24);  // int(32 * 0.75), as prepare.py's data[:int(n*0.9)]
  EXPECT_EQ(info.val_tokens, 8);
  const DatasetInfo read = read_dataset_info(dir.file("ds"));
  EXPECT_EQ(read.vocab_size, info.vocab_size);
  EXPECT_EQ(read.train_tokens, 24);
  const auto tok = load_dataset_tokenizer(read);
  EXPECT_EQ(tok->vocab_size(), 19);  // len(set(text)) in Python
  const Shard train = Shard::open(dir.file("ds/train.bin"));
  const Shard val = Shard::open(dir.file("ds/val.bin"));
  EXPECT_EQ(train.vocab_size(), 19);
  EXPECT_EQ(tok->decode(ids_of(train)), text.substr(0, 24));
  EXPECT_EQ(tok->decode(ids_of(val)), text.substr(24));
}

TEST(Prepare, Gpt2SeparatesFilesWithEndOfText) {
  NABLA_REQUIRE_SHARED_DATA(enc, "gpt2_encoder.json");
  NABLA_REQUIRE_SHARED_DATA(bpe, "gpt2_vocab.bpe");
  TempDir dir("prepare");
  write_file(dir.file("a.txt"), "Hello, world!");
  write_file(dir.file("b.txt"), "Hello, world!");
  const DatasetInfo info = prepare_dataset({.inputs = {dir.file("a.txt"), dir.file("b.txt")},
                                            .out_dir = dir.file("ds"), .tokenizer = "gpt2",
                                            .gpt2_encoder = enc, .gpt2_merges = bpe,
                                            .val_fraction = 0.5});
  EXPECT_EQ(info.tokenizer_kind, "gpt2");
  // ids from tests/fixtures/gpt2_tokenizer.json; 50256 is <|endoftext|>
  EXPECT_EQ(ids_of(Shard::open(dir.file("ds/train.bin"))),
            (std::vector<int32_t>{15496, 11, 995, 0, 50256}));
  EXPECT_EQ(ids_of(Shard::open(dir.file("ds/val.bin"))),
            (std::vector<int32_t>{15496, 11, 995, 0, 50256}));
  EXPECT_EQ(load_dataset_tokenizer(read_dataset_info(dir.file("ds")))->name(), "gpt2");
}

TEST(Prepare, SplitNeverCutsAUtf8Character) {
  TempDir dir("prepare");
  write_file(dir.file("a.txt"), "ab\xC3\xA9" "cd");  // "abécd": the split at byte 3 moves to 4
  const DatasetInfo info = prepare_dataset(
      {.inputs = {dir.file("a.txt")}, .out_dir = dir.file("ds"), .val_fraction = 0.5});
  EXPECT_EQ(info.train_tokens, 4);  // char tokens are bytes
  EXPECT_EQ(info.val_tokens, 2);
}

TEST(Prepare, BadInputsAreClearErrors) {
  TempDir dir("prepare");
  EXPECT_THAT([&] { prepare_dataset({.inputs = {dir.file("missing.txt")}, .out_dir = dir.file("ds")}); },
              ::testing::ThrowsMessage<IoError>(HasSubstr("missing.txt")));
  write_file(dir.file("empty.txt"), "");
  EXPECT_THAT([&] { prepare_dataset({.inputs = {dir.file("empty.txt")}, .out_dir = dir.file("ds")}); },
              ::testing::ThrowsMessage<Error>(HasSubstr("hold no text")));
  write_file(dir.file("a.txt"), "abc");
  EXPECT_THAT([&] {
    prepare_dataset({.inputs = {dir.file("a.txt")}, .out_dir = dir.file("ds"), .val_fraction = 1.0});
  }, ::testing::ThrowsMessage<Error>(HasSubstr("val fraction")));
  EXPECT_THAT([&] { read_dataset_info(dir.file("nothing")); },
              ::testing::ThrowsMessage<IoError>(HasSubstr("nabla prepare")));
}

}  // namespace
}  // namespace nabla::data
