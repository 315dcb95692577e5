// Character tokenizer: nanoGPT shakespeare_char's vocabulary, round trips, save/load, errors.
#include "nabla/tokenizers/char_tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/core/error.h"
#include "tests/testing/fixture.h"
#include "tests/tokenizers/helpers.h"

namespace nabla::tokenizers {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

TEST(CharTokenizer, ShakespeareCharVocabulary) {
  NABLA_REQUIRE_SHARED_DATA(path, "tinyshakespeare.txt");
  const std::string text = testing::read_file(path);
  const CharTokenizer tok = CharTokenizer::from_corpus(text);
  EXPECT_EQ(tok.vocab_size(), 65);  // data README: 65 distinct byte values
  // nanoGPT's "Let's build GPT" notebook: encode("hii there") on this corpus.
  EXPECT_EQ(tok.encode("hii there"), (std::vector<int32_t>{46, 47, 47, 1, 58, 46, 43, 56, 43}));
  const std::vector<int32_t> ids = tok.encode(text);
  EXPECT_EQ(ids.size(), text.size());
  EXPECT_EQ(tok.decode(ids), text);
}

TEST(CharTokenizer, SaveLoadRoundTrip) {
  testing::TempDir dir("char");
  const CharTokenizer tok = CharTokenizer::from_corpus("hello world\n\xff");
  EXPECT_EQ(tok.bytes(), (std::vector<uint8_t>{'\n', ' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w', 0xFF}));
  tok.save(dir.file("vocab.json"));
  const CharTokenizer back = CharTokenizer::load(dir.file("vocab.json"));
  EXPECT_EQ(back.bytes(), tok.bytes());
  EXPECT_EQ(back.decode(back.encode("low\xff")), "low\xff");
}

TEST(CharTokenizer, ErrorsNameTheProblem) {
  testing::TempDir dir("char_err");
  const CharTokenizer tok = CharTokenizer::from_corpus("abc");
  EXPECT_THAT([&] { tok.encode("abz"); },
              ThrowsMessage<Error>(HasSubstr("byte 122 at offset 2 is not in the vocabulary")));
  EXPECT_THROW(tok.decode_piece(-1, 3), Error);
  EXPECT_THROW(CharTokenizer::from_corpus(""), Error);
  testing::write_file(dir.file("bad.json"), R"({"kind": "nabla-char-tokenizer", "version": 1,
    "bytes": [98, 97]})");
  EXPECT_THAT([&] { CharTokenizer::load(dir.file("bad.json")); },
              ThrowsMessage<IoError>(HasSubstr("strictly increasing")));
  testing::write_file(dir.file("other.json"), R"({"kind": "something"})");
  EXPECT_THAT([&] { CharTokenizer::load(dir.file("other.json")); },
              ThrowsMessage<IoError>(HasSubstr("is not a char tokenizer file")));
  testing::write_file(dir.file("range.json"), R"({"kind": "nabla-char-tokenizer", "version": 1,
    "bytes": [1, 300]})");
  EXPECT_THAT([&] { CharTokenizer::load(dir.file("range.json")); },
              ThrowsMessage<IoError>(HasSubstr("300 is not a byte value")));
}

}  // namespace
}  // namespace nabla::tokenizers
