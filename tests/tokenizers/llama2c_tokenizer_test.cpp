// llama2.c tokenizer.bin: ids against a port of run.c (tests/fixtures/llama2c_tokenizer.json,
// tools/fixtures/llama2c_tokenizer.py) and llama2.c's test.c vectors, decoding, round trips
// and hostile files.
#include "nabla/tokenizers/llama2c_tokenizer.h"

#include <cstring>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/core/error.h"
#include "tests/testing/fixture.h"
#include "tests/tokenizers/helpers.h"

namespace nabla::tokenizers {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using testing::from_hex;

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

TEST(Llama2cTokenizer, MatchesLlama2cTestVectors) {
  NABLA_REQUIRE_SHARED_DATA(path, "llama2_tokenizer.bin");
  const Llama2cTokenizer tok = Llama2cTokenizer::load(path, 32000);
  // llama2.c test.c (quoted in the data README).
  EXPECT_EQ(tok.encode("I believe the meaning of life is"),
            (std::vector<int32_t>{1, 306, 4658, 278, 6593, 310, 2834, 338}));
  EXPECT_EQ(tok.encode(""), std::vector<int32_t>{1});
  EXPECT_EQ(tok.max_token_length(), 27);
  EXPECT_EQ(tok.vocab_size(), 32000);
  EXPECT_EQ(tok.encode("a", false, true), (std::vector<int32_t>{tok.encode("a")[1], 2}));
}

TEST(Llama2cTokenizer, MatchesRunCPort) {
  const auto fx = testing::read_json_fixture("llama2c_tokenizer");
  for (const char* key : {"tok512", "llama2"}) {
    const auto& f = fx.at(key);
    NABLA_REQUIRE_SHARED_DATA(path, f.at("file").get<std::string>());
    const Llama2cTokenizer tok = Llama2cTokenizer::load(path, f.at("vocab_size"));
    for (const auto& c : f.at("cases")) {
      const std::string text = from_hex(c.at("hex"));
      const std::vector<int32_t> ids = tok.encode(text);
      EXPECT_EQ(ids, c.at("ids").get<std::vector<int32_t>>()) << key << " hex " << c.at("hex");
      EXPECT_EQ(tok.decode(ids), from_hex(c.at("decoded_hex"))) << key << " hex " << c.at("hex");
    }
  }
}

TEST(Llama2cTokenizer, Tok512RoundTrips) {
  NABLA_REQUIRE_SHARED_DATA(path, "tok512.bin");
  const Llama2cTokenizer tok = Llama2cTokenizer::load(path);  // vocab size from the file
  EXPECT_EQ(tok.vocab_size(), 512);
  std::mt19937 rng(7);
  const std::string alphabet = "Once upon a time \n\t.,!'\"\xc3\xa9\xe6\x97\xa5\xff\x80";
  for (int trial = 0; trial < 200; ++trial) {
    std::string s(rng() % 80, '\0');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    const std::vector<int32_t> ids = tok.encode(s);
    ASSERT_EQ(ids.front(), 1);
    ASSERT_EQ(tok.decode(ids), s) << "trial " << trial;
  }
}

TEST(Llama2cTokenizer, DecodeStripsSpaceAfterBosAndParsesBytePieces) {
  NABLA_REQUIRE_SHARED_DATA(path, "tok512.bin");
  const Llama2cTokenizer tok = Llama2cTokenizer::load(path, 512);
  EXPECT_EQ(tok.piece(3), "<0x00>");  // data README: ids 3..258 are <0x00>..<0xFF>
  EXPECT_EQ(tok.decode_piece(5, 3 + '\n'), "\n");
  EXPECT_EQ(tok.decode_piece(5, 3 + 0xE6), "\xe6");
  const int32_t space = tok.encode(" ")[1];
  EXPECT_EQ(tok.piece(space), " ");
  EXPECT_EQ(tok.decode_piece(1, space), "");
  EXPECT_EQ(tok.decode_piece(7, space), " ");
  EXPECT_EQ(tok.decode_piece(-1, 1), "");  // BOS prints nothing
  EXPECT_THROW(tok.decode_piece(1, 512), Error);
  StreamDecoder stream(tok);
  EXPECT_EQ(stream.push(1), "");
  EXPECT_EQ(stream.push(3 + 0xE6), "");  // first byte of 日 is held back
  EXPECT_EQ(stream.push(3 + 0x97), "");
  EXPECT_EQ(stream.push(3 + 0xA5), "日");
}

// tok512.bin with the int32 at byte offset off replaced by v.
std::vector<uint8_t> patched(const std::string& path, size_t off, int32_t v) {
  std::vector<uint8_t> d = bytes_of(testing::read_file(path));
  std::memcpy(d.data() + off, &v, 4);
  return d;
}

TEST(Llama2cTokenizer, HostileFilesThrowIoErrorWithOffset) {
  NABLA_REQUIRE_SHARED_DATA(path, "tok512.bin");
  const std::vector<uint8_t> good = bytes_of(testing::read_file(path));
  auto load = [](const std::vector<uint8_t>& d, int64_t vocab) {
    return Llama2cTokenizer::from_bytes(d, vocab, "t.bin");
  };
  EXPECT_NO_THROW(load(good, 512));
  const std::vector<uint8_t> cut(good.begin(), good.begin() + 2);
  EXPECT_THAT([&] { load(cut, 512); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("t.bin"), HasSubstr("offset 0"))));
  for (size_t n : {size_t{4}, size_t{9}, size_t{14}, good.size() - 1}) {
    const std::vector<uint8_t> t(good.begin(), good.begin() + static_cast<long>(n));
    EXPECT_THAT([&] { load(t, 512); },
                ThrowsMessage<IoError>(AllOf(HasSubstr("truncated"), HasSubstr("offset"))))
        << n;
  }
  // Record 0 is at offset 4: score at 4, len at 8.
  EXPECT_THAT([&] { load(patched(path, 8, -5), 512); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("length -5"), HasSubstr("offset 8"))));
  EXPECT_THAT([&] { load(patched(path, 8, 1 << 30), 512); },
              ThrowsMessage<IoError>(HasSubstr("max_token_length=7")));
  EXPECT_THAT([&] { load(patched(path, 0, -1), 512); },
              ThrowsMessage<IoError>(HasSubstr("max_token_length -1")));
  EXPECT_THAT([&] { load(good, 511); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("bytes after the 511 records"),
                                           HasSubstr("vocab_size does not match"))));
  EXPECT_THAT([&] { load(good, 513); }, ThrowsMessage<IoError>(HasSubstr("record 512 is truncated")));
  EXPECT_THAT([&] { load(good, 100); }, ThrowsMessage<IoError>(HasSubstr("too small")));
  EXPECT_THAT([&] { Llama2cTokenizer::load("/nonexistent/tokenizer.bin"); },
              ThrowsMessage<IoError>(HasSubstr("cannot open /nonexistent/tokenizer.bin")));
}

TEST(Llama2cTokenizer, SyntheticVocabularyMergesByScore) {
  // max_token_length 3; 256 byte tokens plus "a", "b", " ", "ab", " ab": merges must follow
  // the scores (higher first), not the ids.
  std::string file(4, '\0');
  const int32_t mtl = 3;
  std::memcpy(file.data(), &mtl, 4);
  auto add = [&](float score, const std::string& piece) {
    const auto len = static_cast<int32_t>(piece.size());
    file.append(reinterpret_cast<const char*>(&score), 4);
    file.append(reinterpret_cast<const char*>(&len), 4);
    file += piece;
  };
  add(0, "unk");
  add(0, "<s>");
  add(0, "/s>");
  for (int b = 0; b < 256; ++b) add(0, std::string{'b', static_cast<char>('0' + b % 10)});
  add(0, "a");       // 259
  add(0, "b");       // 260
  add(0, " ");       // 261
  add(-2, "ab");     // 262
  add(-1, " a");     // 263: beats "ab"
  add(-3, " ab");    // 264
  const Llama2cTokenizer tok = Llama2cTokenizer::from_bytes(bytes_of(file), -1, "synthetic");
  // " a" + "b" -> " ab" (the " a" merge wins, then " a"+"b" = " ab").
  EXPECT_EQ(tok.encode("ab"), (std::vector<int32_t>{1, 264}));
  EXPECT_EQ(tok.encode("abab"), (std::vector<int32_t>{1, 264, 262}));
}

}  // namespace
}  // namespace nabla::tokenizers
