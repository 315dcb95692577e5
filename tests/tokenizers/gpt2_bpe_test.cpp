// GPT-2 BPE against OpenAI's reference encoder (tests/fixtures/gpt2_tokenizer.json, written by
// tools/fixtures/gpt2_tokenizer.py): pre-tokenisation, ids, special tokens, invalid UTF-8,
// tinyshakespeare; plus round trips, streaming decode and malformed files.
#include "nabla/tokenizers/gpt2_bpe.h"

#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/core/error.h"
#include "tests/testing/fixture.h"
#include "tests/tokenizers/helpers.h"

namespace nabla::tokenizers {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using testing::from_hex;

// Loading takes ~0.1 s; the tests share one instance.
const GPT2Tokenizer* gpt2() {
  static const std::unique_ptr<GPT2Tokenizer> tok = [] {
    const std::string enc = nabla::testing::shared_data_file("gpt2_encoder.json");
    const std::string bpe = nabla::testing::shared_data_file("gpt2_vocab.bpe");
    return enc.empty() || bpe.empty() ? nullptr : std::make_unique<GPT2Tokenizer>(enc, bpe);
  }();
  return tok.get();
}

#define REQUIRE_GPT2()                            \
  NABLA_REQUIRE_SHARED_DATA(enc_path, "gpt2_encoder.json"); \
  const GPT2Tokenizer& tok = *gpt2()

std::vector<std::string> as_strings(const std::vector<std::string_view>& v) {
  return {v.begin(), v.end()};
}

uint64_t fnv1a64(const std::vector<int32_t>& ids) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (const int32_t id : ids) {
    for (int k = 0; k < 4; ++k) {
      h = (h ^ ((static_cast<uint32_t>(id) >> (8 * k)) & 0xFF)) * 0x100000001B3ull;
    }
  }
  return h;
}

TEST(GPT2Tokenizer, VocabularyAndByteLevelTable) {
  REQUIRE_GPT2();
  EXPECT_EQ(tok.vocab_size(), 50257);
  EXPECT_EQ(tok.eos_id(), 50256);  // data README: "<|endoftext|>" is 50256
  EXPECT_EQ(tok.decode_piece(-1, 262), " the");  // README: "Ġthe" is 262
  EXPECT_EQ(tok.special_tokens(), std::vector<std::string>{"<|endoftext|>"});
  EXPECT_THAT([&] { tok.decode_piece(-1, 50257); }, ThrowsMessage<Error>(HasSubstr("out of range")));
  EXPECT_THROW(tok.decode_piece(-1, -1), Error);
}

TEST(GPT2Tokenizer, MatchesReferenceOnVariedText) {
  REQUIRE_GPT2();
  const auto fx = testing::read_json_fixture("gpt2_tokenizer");
  int checked = 0;
  for (const auto& c : fx.at("cases")) {
    if (!c.contains("text")) continue;
    const std::string text = c.at("text");
    EXPECT_EQ(as_strings(tok.pre_tokenize(text)), c.at("pieces").get<std::vector<std::string>>())
        << "text: " << text;
    const std::vector<int32_t> ids = tok.encode(text);
    EXPECT_EQ(ids, c.at("ids").get<std::vector<int32_t>>()) << "text: " << text;
    EXPECT_EQ(tok.decode(ids), text);
    ++checked;
  }
  EXPECT_GT(checked, 40);
}

TEST(GPT2Tokenizer, InvalidUtf8IsEncodedByteExactly) {
  REQUIRE_GPT2();
  const auto fx = testing::read_json_fixture("gpt2_tokenizer");
  int checked = 0;
  for (const auto& c : fx.at("cases")) {
    if (!c.contains("hex")) continue;
    const std::string bytes = from_hex(c.at("hex"));
    std::vector<std::string> pieces;
    for (const auto& p : c.at("pieces_hex")) pieces.push_back(from_hex(p));
    EXPECT_EQ(as_strings(tok.pre_tokenize(bytes)), pieces) << "hex: " << c.at("hex");
    const std::vector<int32_t> ids = tok.encode(bytes);
    EXPECT_EQ(ids, c.at("ids").get<std::vector<int32_t>>()) << "hex: " << c.at("hex");
    EXPECT_EQ(tok.decode(ids), bytes);
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

TEST(GPT2Tokenizer, SpecialTokenOnlyWhenAllowed) {
  REQUIRE_GPT2();
  const auto fx = testing::read_json_fixture("gpt2_tokenizer");
  for (const auto& c : fx.at("special")) {
    const std::string text = c.at("text");
    EXPECT_EQ(tok.encode(text, {"<|endoftext|>"}), c.at("ids").get<std::vector<int32_t>>())
        << text;
    const std::vector<int32_t> plain = tok.encode(text);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 50256), 0) << text;
    EXPECT_EQ(tok.decode(plain), text);
  }
  EXPECT_THAT([&] { tok.encode("x", {"<|im_start|>"}); },
              ThrowsMessage<Error>(HasSubstr("not a special token")));
}

TEST(GPT2Tokenizer, MatchesReferenceOnTinyShakespeare) {
  REQUIRE_GPT2();
  NABLA_REQUIRE_SHARED_DATA(path, "tinyshakespeare.txt");
  const auto ref = testing::read_json_fixture("gpt2_tokenizer").at("tinyshakespeare");
  const std::string text = testing::read_file(path);
  const std::vector<int32_t> ids = tok.encode(text);
  ASSERT_EQ(static_cast<int64_t>(ids.size()), ref.at("count").get<int64_t>());
  const auto first = ref.at("first").get<std::vector<int32_t>>();
  EXPECT_TRUE(std::equal(first.begin(), first.end(), ids.begin()));
  EXPECT_EQ(std::to_string(fnv1a64(ids)), ref.at("fnv1a64").get<std::string>());
  const std::vector<int32_t> head = tok.encode(std::string_view(text).substr(0, 100000));
  EXPECT_EQ(static_cast<int64_t>(head.size()), ref.at("first_100k_count").get<int64_t>());
  EXPECT_EQ(std::to_string(fnv1a64(head)), ref.at("first_100k_fnv1a64").get<std::string>());
  EXPECT_EQ(tok.decode(ids), text);
}

TEST(GPT2Tokenizer, RandomBytesRoundTrip) {
  REQUIRE_GPT2();
  std::mt19937 rng(1234);
  // Mix of ASCII, spaces, UTF-8 lead/continuation bytes and arbitrary bytes.
  const std::string alphabet = "ab Z9'\n\t\xc3\xa9\xe6\x97\xa5\xf0\x9f\x91\x8d\x80\xff";
  for (int trial = 0; trial < 300; ++trial) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) {
      c = rng() % 4 == 0 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    }
    ASSERT_EQ(tok.decode(tok.encode(s)), s) << "trial " << trial;
  }
}

TEST(GPT2Tokenizer, LongPieceIsFast) {
  REQUIRE_GPT2();
  // One 200 KB "word": the priority-queue merge is O(n log n) (the reference is O(n^2)).
  std::string s;
  for (int i = 0; i < 20000; ++i) s += "abracadabr";
  const std::vector<int32_t> ids = tok.encode(s);
  EXPECT_LT(ids.size(), s.size() / 2);
  EXPECT_EQ(tok.decode(ids), s);
}

TEST(GPT2Tokenizer, StreamDecoderHoldsBackIncompleteUtf8) {
  REQUIRE_GPT2();
  const std::string text = "日本語 emoji 👨‍👩‍👧 café\xff end";
  const std::vector<int32_t> ids = tok.encode(text);
  StreamDecoder stream(tok);
  std::string joined;
  int held = 0;
  for (const int32_t id : ids) {
    const std::string chunk = stream.push(id);
    if (chunk.empty()) ++held;
    const bool ok = testing::is_valid_utf8(chunk) || chunk.find('\xff') != std::string::npos;
    EXPECT_TRUE(ok) << "chunk after token " << id << " is not whole UTF-8";
    joined += chunk;
  }
  joined += stream.finish();
  EXPECT_EQ(joined, text);
  EXPECT_GT(held, 0);  // CJK and emoji are split across byte tokens
  StreamDecoder tail(tok);
  EXPECT_EQ(tail.push(tok.encode("\xe6")[0]), "");  // a lone lead byte waits...
  EXPECT_EQ(tail.finish(), "\xe6");                  // ...and comes out at the end
}

TEST(GPT2Tokenizer, MalformedFilesThrowIoError) {
  NABLA_REQUIRE_SHARED_DATA(enc, "gpt2_encoder.json");
  testing::TempDir dir("gpt2");
  const std::string bytes_json = [] {
    std::string j = "{";
    int extra = 256;
    for (int b = 0; b < 256; ++b) {
      // Byte b's character in GPT-2's byte-level alphabet, as a JSON \u escape.
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      char buf[32];
      std::snprintf(buf, sizeof buf, "\"\\u%04x\": %d,", printable ? b : extra++, b);
      j += buf;
    }
    return j;
  }();
  testing::write_file(dir.file("good.json"), bytes_json + "\"ab\": 256}");
  testing::write_file(dir.file("bad.json"), "{\"a\": ");
  testing::write_file(dir.file("ok.bpe"), "#version: 0.2\na b\n");
  testing::write_file(dir.file("unknown.bpe"), "#version: 0.2\na b\nab c\n");
  testing::write_file(dir.file("three.bpe"), "#version: 0.2\na b c\n");
  EXPECT_NO_THROW(GPT2Tokenizer(dir.file("good.json"), dir.file("ok.bpe")));
  EXPECT_THAT([&] { GPT2Tokenizer(dir.file("bad.json"), dir.file("ok.bpe")); },
              ThrowsMessage<IoError>(HasSubstr("bad.json is not valid JSON")));
  EXPECT_THAT([&] { GPT2Tokenizer(dir.file("good.json"), dir.file("unknown.bpe")); },
              ThrowsMessage<IoError>(HasSubstr("unknown.bpe:3: merge \"ab c\"")));
  EXPECT_THAT([&] { GPT2Tokenizer(dir.file("good.json"), dir.file("three.bpe")); },
              ThrowsMessage<IoError>(HasSubstr("three.bpe:2: expected two tokens")));
  EXPECT_THAT([&] { GPT2Tokenizer(dir.file("missing.json"), dir.file("ok.bpe")); },
              ThrowsMessage<IoError>(HasSubstr("cannot open")));
}

}  // namespace
}  // namespace nabla::tokenizers
