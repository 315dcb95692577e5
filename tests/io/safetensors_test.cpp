// safetensors: round trips of every dtype, zero-copy views of the mapping, F16 widening,
// every header check on hand-made hostile files, and atomic writes.
#include "nabla/io/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cmath>
#include <csignal>

#include "tests/io/io_test_util.h"

namespace nabla::io {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using testing::bitwise_equal;
using testing::TempDir;

// A file from a header text and a data buffer.
std::vector<uint8_t> make_file(const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out;
  testing::append<uint64_t>(&out, header.size());
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::shared_ptr<Storage> to_storage(const std::vector<uint8_t>& bytes) {
  auto s = std::make_shared<Storage>(bytes.size(), Device());
  std::memcpy(s->data(), bytes.data(), bytes.size());
  return s;
}

Weights parse(const std::string& header, const std::vector<uint8_t>& data) {
  return parse_safetensors(to_storage(make_file(header, data)), "test.safetensors");
}

auto throws(const std::string& text) { return ThrowsMessage<IoError>(HasSubstr(text)); }

TEST(Safetensors, RoundTripsEveryDtypeBitwise) {
  TempDir dir;
  const std::string path = dir.file("all.safetensors");
  std::vector<std::pair<std::string, Tensor>> tensors;
  const DType dtypes[] = {kUInt8, kFloat32, kBFloat16, kBool, kFloat64, kInt32, kInt64};
  uint32_t seed = 1;
  for (DType t : dtypes) {
    tensors.emplace_back(std::string(dtype_short_name(t)) + ".x", testing::random_tensor({3, 5}, t, seed++));
  }
  Tensor base = testing::random_tensor({4, 6}, kFloat32, 99);
  tensors.emplace_back("transposed", Tensor::make_view(base.storage(), {6, 4}, {1, 6}, 0, kFloat32));
  tensors.emplace_back("scalar", testing::random_tensor({}, kFloat32, 7));
  tensors.emplace_back("empty", Tensor::empty({0, 3}, kFloat32));
  save_safetensors(path, tensors, {{"format", "pt"}, {"step", "10"}});

  const Weights w = load_safetensors(path);
  ASSERT_EQ(w.size(), tensors.size());
  for (const auto& [name, t] : tensors) EXPECT_TRUE(bitwise_equal(w.at(name), t)) << name;
  EXPECT_EQ(w.metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"step", "10"}}));
  // File order: larger elements first (keeps every tensor aligned), stable otherwise.
  EXPECT_EQ(w.names().front(), "f64.x");
  EXPECT_EQ(w.names().back(), "bool.x");
  EXPECT_EQ(w.format(), "safetensors");
  EXPECT_EQ(w.source(), path);
}

TEST(Safetensors, HeaderIsPaddedWithSpacesToEightBytes) {
  TempDir dir;
  const std::string path = dir.file("pad.safetensors");
  save_safetensors(path, {{"a", testing::random_tensor({3}, kFloat32, 1)}});
  const auto bytes = testing::read_bytes(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 12);
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<int64_t>(n));
  EXPECT_EQ(header.front(), '{');
  EXPECT_THAT(header, HasSubstr("\"data_offsets\":[0,12]"));
  EXPECT_EQ(header.find_last_not_of(' '), header.find_last_of('}'));
}

TEST(Safetensors, LoadedTensorsViewTheMappingWithoutCopy) {
  TempDir dir;
  const std::string path = dir.file("view.safetensors");
  save_safetensors(path, {{"a", testing::random_tensor({16}, kFloat32, 1)},
                          {"b", testing::random_tensor({8}, kFloat32, 2)}});
  const Weights w = load_safetensors(path);
  const auto& a = w.entries()[0];
  const auto& b = w.entries()[1];
  // Both point into one mapping: their addresses differ by exactly their file offsets.
  EXPECT_EQ(static_cast<const char*>(b.tensor.raw_data()) - static_cast<const char*>(a.tensor.raw_data()),
            b.offset - a.offset);
  EXPECT_EQ(b.offset - a.offset, 64);
  EXPECT_NE(a.tensor.storage(), b.tensor.storage());  // separate version counters
}

TEST(Safetensors, InPlaceEditsOfLoadedTensorsNeverReachTheFile) {
  TempDir dir;
  const std::string path = dir.file("cow.safetensors");
  Tensor t = testing::random_tensor({4}, kFloat32, 3);
  save_safetensors(path, {{"a", t}});
  const auto before = testing::read_bytes(path);
  {
    const Weights w = load_safetensors(path);
    w.at("a").data<float>()[0] = 1234.5f;  // copy-on-write page
    EXPECT_EQ(w.at("a").data<float>()[0], 1234.5f);
  }
  EXPECT_EQ(testing::read_bytes(path), before);
  EXPECT_TRUE(bitwise_equal(load_safetensors(path).at("a"), t));
}

TEST(Safetensors, TensorsOutliveTheWeightsObject) {
  TempDir dir;
  const std::string path = dir.file("keep.safetensors");
  Tensor t = testing::random_tensor({5}, kFloat32, 4);
  save_safetensors(path, {{"a", t}});
  Tensor kept;
  { kept = load_safetensors(path).at("a"); }
  std::filesystem::remove(path);  // the mapping stays valid after unlink
  EXPECT_TRUE(bitwise_equal(kept, t));
}

// IEEE binary16 value of bit pattern h, from the definition (the reference for f16_to_f32).
float f16_reference(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  double v = exp == 0 ? std::ldexp(frac, -24) : std::ldexp(1024 + frac, exp - 25);
  if (exp == 31) v = frac == 0 ? INFINITY : NAN;
  return static_cast<float>(sign ? -v : v);
}

TEST(Safetensors, F16IsWidenedToF32) {
  const std::vector<uint16_t> halves = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x8000, 0x7c00, 0x3555};
  std::vector<uint8_t> data;
  for (uint16_t h : halves) testing::append(&data, h);
  // One U8 first puts the F16 data at an odd address: the loader must not read it misaligned.
  data.insert(data.begin(), 7);
  const Weights w = parse(R"({"u":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                          R"("h":{"dtype":"F16","shape":[2,4],"data_offsets":[1,17]}})", data);
  const Tensor& t = w.at("h");
  EXPECT_EQ(t.dtype(), kFloat32);
  EXPECT_EQ(t.shape(), (Shape{2, 4}));
  for (size_t i = 0; i < halves.size(); ++i) EXPECT_EQ(t.data<float>()[i], f16_reference(halves[i])) << i;
}

TEST(Safetensors, MisalignedF32IsCopiedNotViewed) {
  std::vector<uint8_t> data = {1, 0, 0, 0x80, 0x3f};  // u8 7, then f32 1.0 at data offset 1
  const Weights w = parse(R"({"u":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                          R"("f":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}})", data);
  EXPECT_EQ(w.at("f").data<float>()[0], 1.0f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w.at("f").raw_data()) % 4, 0u);
}

TEST(Safetensors, EmptyFileWithOnlyMetadataLoads) {
  const Weights w = parse(R"({"__metadata__":{"k":"v"}})", {});
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.metadata.at("k"), "v");
}

TEST(Safetensors, RejectsFilesTooSmallOrWithAbsurdHeaderLength) {
  EXPECT_THAT([] { parse_safetensors(to_storage({1, 2, 3}), "t.st"); },
              throws("file is 3 bytes, too small for the 8-byte header length (t.st, offset 0)"));
  std::vector<uint8_t> huge;
  testing::append<uint64_t>(&huge, uint64_t{1} << 62);
  EXPECT_THAT([&] { parse_safetensors(to_storage(huge), "t.st"); }, throws("exceeds the 100 MB limit"));
  std::vector<uint8_t> longer;
  testing::append<uint64_t>(&longer, 100);
  longer.push_back('{');
  EXPECT_THAT([&] { parse_safetensors(to_storage(longer), "t.st"); },
              throws("header length 100 exceeds the file size 9"));
}

TEST(Safetensors, InvalidJsonNamesTheFileByteOffset) {
  // The error is at header byte 6 ('}'), i.e. file offset 8 + 6.
  EXPECT_THAT([] { parse(R"({"a": })", {}); }, throws("(test.safetensors, offset 14)"));
  EXPECT_THAT([] { parse(R"({"a": })", {}); }, throws("---> HINT:"));
  EXPECT_THAT([] { parse("[1, 2]", {}); }, throws("header is JSON array, expected an object"));
  EXPECT_THAT([] { parse(R"({"a":{"dtype":"F32","shape":[[[1]]],"data_offsets":[0,4]}})", {0, 0, 0, 0}); },
              throws("JSON nested deeper than 3"));
}

TEST(Safetensors, RejectsDuplicateNames) {
  EXPECT_THAT([] {
    parse(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
          R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", {1, 2});
  }, throws("duplicate JSON key \"a\""));
}

TEST(Safetensors, RejectsBadEntries) {
  const std::vector<uint8_t> four = {0, 0, 0, 0};
  EXPECT_THAT([&] { parse(R"({"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}})", four); },
              throws("a has dtype Q4, which nabla does not support"));
  EXPECT_THAT([&] { parse(R"({"a":{"dtype":"I8","shape":[4],"data_offsets":[0,4]}})", four); },
              throws("supported: F32, F16 (loaded as f32)"));
  EXPECT_THAT([&] { parse(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", four); },
              throws("a: shape entry must be a non-negative integer, got -1"));
  EXPECT_THAT([&] { parse(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", four); },
              throws("got 1.5"));
  EXPECT_THAT([&] { parse(R"({"a":{"dtype":"F32","shape":"x","data_offsets":[0,4]}})", four); },
              throws("shape must be an array"));
  EXPECT_THAT([&] { parse(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", four); }, throws("a has no \"shape\""));
  EXPECT_THAT([&] { parse(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", four); },
              throws("data_offsets must be [begin, end]"));
  EXPECT_THAT([&] { parse(R"({"a":[1]})", four); }, throws("entry for a is not an object"));
  EXPECT_THAT([&] { parse(R"({"__metadata__":{"k":1}})", {}); }, throws("__metadata__ value for \"k\" is not a string"));
}

TEST(Safetensors, RejectsShapeSizeMismatchesAndOverflow) {
  const std::vector<uint8_t> four = {0, 0, 0, 0};
  EXPECT_THAT([&] { parse(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", four); },
              throws("a: shape [2] of F32 needs 8 bytes, but data_offsets span 4"));
  EXPECT_THAT([&] {
    parse(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", four);
  }, throws("overflows"));
  // Element count fits int64 but the byte count does not.
  EXPECT_THAT([&] {
    parse(R"({"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4]}})", four);
  }, throws("needs too many bytes"));
  EXPECT_THAT([&] { parse(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})", four); },
              throws("do not fit the data buffer of 4 bytes"));
  EXPECT_THAT([&] { parse(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[3,2]}})", four); },
              throws("data_offsets [3, 2] do not fit"));
}

TEST(Safetensors, RejectsOverlapsHolesAndTrailingBytes) {
  const std::vector<uint8_t> four = {0, 0, 0, 0};
  EXPECT_THAT([&] {
    parse(R"({"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},)"
          R"("b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", four);
  }, throws("b starts at data byte 2 but the previous tensor ends at 3 (overlap)"));
  EXPECT_THAT([&] {
    parse(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
          R"("b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", four);
  }, throws("(hole)"));
  EXPECT_THAT([&] { parse(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", four); },
              throws("tensors cover 2 bytes of a 4-byte data buffer (trailing bytes)"));
}

TEST(Safetensors, RejectsBoolBytesOtherThanZeroOrOne) {
  EXPECT_THAT([] { parse(R"({"b":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", {1, 2}); },
              throws("b: BOOL byte is neither 0 nor 1"));
}

TEST(Safetensors, MissingFileNamesThePath) {
  EXPECT_THAT([] { load_safetensors("/nonexistent/x.safetensors"); },
              throws("safetensors: cannot open: No such file or directory (/nonexistent/x.safetensors)"));
}

TEST(Safetensors, WriterRejectsBadNames) {
  TempDir dir;
  EXPECT_THAT([&] { save_safetensors(dir.file("x"), {{"__metadata__", Tensor::empty({1})}}); },
              throws("invalid tensor name"));
  EXPECT_THAT([&] { save_safetensors(dir.file("x"), {{"a", Tensor::empty({1})}, {"a", Tensor::empty({1})}}); },
              throws("duplicate tensor name a"));
  EXPECT_TRUE(dir.listing().empty());
}

TEST(Safetensors, WriteIntoMissingDirectoryFails) {
  EXPECT_THAT([] { save_safetensors("/nonexistent/dir/x.safetensors", {{"a", Tensor::empty({1})}}); },
              throws("cannot create /nonexistent/dir/x.safetensors.tmp."));
}

// A file-size limit makes write(2) fail with EFBIG half-way through, as a full disk would.
TEST(Safetensors, FailedWriteLeavesThePreviousFileIntact) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  save_safetensors(path, {{"old", testing::random_tensor({8}, kFloat32, 1)}});
  const auto before = testing::read_bytes(path);

  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  EXPECT_THAT([&] { save_safetensors(path, {{"new", testing::random_tensor({1 << 16}, kFloat32, 2)}}); },
              throws("failed: File too large; the previous file is unchanged"));
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &saved), 0);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_EQ(testing::read_bytes(path), before);
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"model.safetensors"});  // temp file removed
}

TEST(Safetensors, SaveReplacesAnExistingFile) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  save_safetensors(path, {{"a", testing::random_tensor({2}, kFloat32, 1)}});
  Tensor b = testing::random_tensor({3}, kInt64, 2);
  Weights w("safetensors", "mem");
  w.add("b", b);
  w.metadata["x"] = "y";
  save_safetensors(path, w);
  const Weights r = load_safetensors(path);
  EXPECT_EQ(r.names(), std::vector<std::string>{"b"});
  EXPECT_TRUE(bitwise_equal(r.at("b"), b));
  EXPECT_EQ(r.metadata.at("x"), "y");
  EXPECT_EQ(dir.listing().size(), 1u);
}

}  // namespace
}  // namespace nabla::io
