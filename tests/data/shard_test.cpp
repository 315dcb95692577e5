// Token shards: round trips at both widths, the documented header layout, and rejection of
// truncated, padded and hostile files with the file and byte offset in the message.
#include "nabla/data/shard.h"

#include <cstring>
#include <fstream>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/core/error.h"
#include "tests/tokenizers/helpers.h"

namespace nabla::data {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using tokenizers::testing::read_file;
using tokenizers::testing::TempDir;
using tokenizers::testing::write_file;

std::vector<int64_t> read_all(const Shard& s) {
  std::vector<int64_t> out(static_cast<size_t>(s.size()));
  s.read(0, s.size(), out.data());
  return out;
}

template <typename T>
void put(std::string& bytes, size_t offset, T v) {
  std::memcpy(bytes.data() + offset, &v, sizeof v);
}

TEST(Shard, RoundTripU16) {
  TempDir dir("shard");
  const std::vector<int32_t> tokens = {0, 1, 64, 65535, 7, 12345};
  write_shard(dir.file("a.bin"), tokens, 65536);
  const Shard s = Shard::open(dir.file("a.bin"));
  EXPECT_EQ(s.size(), 6);
  EXPECT_EQ(s.token_bytes(), 2);
  EXPECT_EQ(s.vocab_size(), 65536);
  EXPECT_EQ(read_all(s), std::vector<int64_t>(tokens.begin(), tokens.end()));
  EXPECT_EQ(s[3], 65535);
}

TEST(Shard, RoundTripU32ForLargeVocab) {
  TempDir dir("shard");
  const std::vector<int32_t> tokens = {65536, 0, 100276, 3};
  write_shard(dir.file("a.bin"), tokens, 100277);
  const Shard s = Shard::open(dir.file("a.bin"));
  EXPECT_EQ(s.token_bytes(), 4);
  EXPECT_EQ(read_all(s), std::vector<int64_t>(tokens.begin(), tokens.end()));
}

TEST(Shard, HeaderLayoutIsTheDocumentedOne) {
  TempDir dir("shard");
  write_shard(dir.file("a.bin"), std::vector<int32_t>{5, 258}, 300);
  const std::string b = read_file(dir.file("a.bin"));
  ASSERT_EQ(b.size(), 32u + 2 * 2);
  EXPECT_EQ(b.substr(0, 8), "NABLATOK");
  uint32_t version = 0, width = 0;
  uint64_t n = 0, vocab = 0;
  std::memcpy(&version, b.data() + 8, 4);
  std::memcpy(&width, b.data() + 12, 4);
  std::memcpy(&n, b.data() + 16, 8);
  std::memcpy(&vocab, b.data() + 24, 8);
  EXPECT_EQ(version, 1u);
  EXPECT_EQ(width, 2u);
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(vocab, 300u);
  EXPECT_EQ(static_cast<uint8_t>(b[32]), 5);      // little-endian ids
  EXPECT_EQ(static_cast<uint8_t>(b[34]), 258 & 0xFF);
  EXPECT_EQ(static_cast<uint8_t>(b[35]), 258 >> 8);
}

TEST(Shard, WriterRejectsOutOfVocabTokensAndKeepsOldFile) {
  TempDir dir("shard");
  write_shard(dir.file("a.bin"), std::vector<int32_t>{1, 2}, 10);
  const std::string before = read_file(dir.file("a.bin"));
  EXPECT_THAT([&] { write_shard(dir.file("a.bin"), std::vector<int32_t>{1, 10}, 10); },
              ::testing::ThrowsMessage<Error>(HasSubstr("token 1 is 10, outside the vocabulary")));
  EXPECT_EQ(read_file(dir.file("a.bin")), before);
}

class ShardCorrupt : public ::testing::Test {
 protected:
  void SetUp() override {
    write_shard(dir_.file("good.bin"), std::vector<int32_t>{1, 2, 3, 4}, 10);
    good_ = read_file(dir_.file("good.bin"));
  }
  // Opening bytes as a shard file must throw IoError containing all of parts.
  void expect_rejected(const std::string& bytes, const std::string& what) {
    write_file(dir_.file("bad.bin"), bytes);
    EXPECT_THAT([&] { Shard::open(dir_.file("bad.bin")); },
                ::testing::ThrowsMessage<IoError>(AllOf(HasSubstr(what), HasSubstr("bad.bin"))));
  }
  TempDir dir_{"shard"};
  std::string good_;
};

TEST_F(ShardCorrupt, TruncatedData) {
  expect_rejected(good_.substr(0, good_.size() - 1), "offset 16");
  expect_rejected(good_.substr(0, good_.size() - 1), "truncated or corrupt");
}

TEST_F(ShardCorrupt, TruncatedHeaderAndEmptyFile) {
  expect_rejected(good_.substr(0, 20), "the header needs 32");
  expect_rejected("", "file has 0 bytes");
}

TEST_F(ShardCorrupt, TrailingBytes) { expect_rejected(good_ + "x", "truncated or corrupt"); }

TEST_F(ShardCorrupt, BadMagicVersionWidth) {
  std::string b = good_;
  b[0] = 'X';
  expect_rejected(b, "bad magic");
  b = good_;
  put<uint32_t>(b, 8, 2);
  expect_rejected(b, "unsupported version 2");
  b = good_;
  put<uint32_t>(b, 12, 3);
  expect_rejected(b, "token width 3");
}

TEST_F(ShardCorrupt, HugeTokenCountNeverAllocates) {
  std::string b = good_;
  put<uint64_t>(b, 16, ~uint64_t{0});
  expect_rejected(b, "header says 18446744073709551615 tokens");
  put<uint64_t>(b, 16, uint64_t{1} << 62);  // n * width overflows 64 bits
  expect_rejected(b, "truncated or corrupt");
}

TEST_F(ShardCorrupt, VocabTooLargeForWidth) {
  std::string b = good_;
  put<uint64_t>(b, 24, 70000);
  expect_rejected(b, "offset 24");
}

TEST_F(ShardCorrupt, TokenOutsideVocabIsReportedWithOffset) {
  std::string b = good_;
  put<uint16_t>(b, 32 + 2 * 2, 11);
  write_file(dir_.file("bad.bin"), b);
  const Shard s = Shard::open(dir_.file("bad.bin"));
  std::vector<int64_t> out(4);
  EXPECT_THAT([&] { s.read(0, 4, out.data()); },
              ::testing::ThrowsMessage<IoError>(
                  AllOf(HasSubstr("token 2 is 11"), HasSubstr("offset 36"))));
  EXPECT_THAT([&] { s.read(3, 2, out.data()); },
              ::testing::ThrowsMessage<IoError>(HasSubstr("outside the shard's 4 tokens")));
}

TEST(Shard, MissingFileNamesThePath) {
  EXPECT_THAT([] { Shard::open("/nonexistent/x.bin"); },
              ::testing::ThrowsMessage<IoError>(HasSubstr("/nonexistent/x.bin")));
}

}  // namespace
}  // namespace nabla::data
