// load_tokenizer() picks the kind from the path; the common interface works for each kind.
#include "nabla/tokenizers/tokenizer.h"

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/core/error.h"
#include "nabla/tokenizers/char_tokenizer.h"
#include "tests/testing/fixture.h"
#include "tests/tokenizers/helpers.h"

namespace nabla::tokenizers {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

TEST(LoadTokenizer, PicksKindFromPath) {
  NABLA_REQUIRE_SHARED_DATA(enc, "gpt2_encoder.json");
  NABLA_REQUIRE_SHARED_DATA(bpe, "gpt2_vocab.bpe");
  NABLA_REQUIRE_SHARED_DATA(tok512, "tok512.bin");
  testing::TempDir dir("load");
  std::filesystem::create_symlink(enc, dir.file("encoder.json"));
  std::filesystem::create_symlink(bpe, dir.file("vocab.bpe"));
  const auto gpt2 = load_tokenizer(dir.path());
  EXPECT_EQ(gpt2->name(), "gpt2");
  EXPECT_EQ(gpt2->encode("Hello, world!"), (std::vector<int32_t>{15496, 11, 995, 0}));

  const auto llama = load_tokenizer(tok512, 512);
  EXPECT_EQ(llama->name(), "llama2c");
  EXPECT_EQ(llama->vocab_size(), 512);
  EXPECT_EQ(llama->bos_id(), 1);
  EXPECT_EQ(llama->eos_id(), 2);
  EXPECT_EQ(llama->decode(llama->encode("Once upon a time")), "Once upon a time");

  CharTokenizer::from_corpus("abc").save(dir.file("chars.json"));
  const auto chars = load_tokenizer(dir.file("chars.json"));
  EXPECT_EQ(chars->name(), "char");
  EXPECT_EQ(chars->encode("cab"), (std::vector<int32_t>{2, 0, 1}));
  EXPECT_FALSE(chars->bos_id().has_value());
}

TEST(LoadTokenizer, BadPathsThrowIoError) {
  testing::TempDir dir("load_bad");
  EXPECT_THAT([&] { load_tokenizer(dir.path()); },
              ThrowsMessage<IoError>(HasSubstr("has no encoder.json + vocab.bpe")));
  EXPECT_THAT([&] { load_tokenizer(dir.file("nope.bin")); },
              ThrowsMessage<IoError>(HasSubstr("cannot open")));
  testing::write_file(dir.file("junk.bin"), "junk");
  EXPECT_THROW(load_tokenizer(dir.file("junk.bin")), IoError);
}

}  // namespace
}  // namespace nabla::tokenizers
