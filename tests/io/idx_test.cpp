// IDX reader: round trips through files written here (raw and gzip), every dtype, every error
// path of hostile input, and the real Fashion-MNIST files against a Python-read fixture.
#include "nabla/io/idx.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <bit>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "tests/testing/fixture.h"

namespace nabla::io {
namespace {

using Bytes = std::vector<uint8_t>;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

void put_be(Bytes& out, uint64_t v, int nbytes) {
  for (int i = nbytes - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// An IDX file: magic, sizes, then elements already encoded by the caller.
Bytes idx_bytes(uint8_t type, const std::vector<uint32_t>& sizes, const Bytes& payload) {
  Bytes out = {0, 0, type, static_cast<uint8_t>(sizes.size())};
  for (uint32_t s : sizes) put_be(out, s, 4);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Bytes gzip_bytes(const Bytes& raw) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&zs, raw.size()) + 64);
  zs.next_in = const_cast<Bytef*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string write_temp(const std::string& name, const Bytes& bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                               static_cast<std::streamsize>(bytes.size()));
  return path;
}

// A (3, 5, 7) u8 image stack with distinct values; odd sizes catch stride mistakes.
Bytes u8_payload() {
  Bytes p(3 * 5 * 7);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
  return p;
}

void expect_u8_stack(const Tensor& t) {
  ASSERT_EQ(t.dtype(), kUInt8);
  ASSERT_EQ(t.shape(), (Shape{3, 5, 7}));
  const Bytes p = u8_payload();
  for (size_t i = 0; i < p.size(); ++i) ASSERT_EQ(t.data<uint8_t>()[i], p[i]) << "element " << i;
}

TEST(Idx, RoundTripRawFile) {
  expect_u8_stack(read_idx(write_temp("stack.idx", idx_bytes(0x08, {3, 5, 7}, u8_payload()))));
}

TEST(Idx, RoundTripGzipFile) {
  const Bytes gz = gzip_bytes(idx_bytes(0x08, {3, 5, 7}, u8_payload()));
  expect_u8_stack(read_idx(write_temp("stack.idx.gz", gz)));
  expect_u8_stack(parse_idx(gz));
}

TEST(Idx, DecodesBigEndianTypes) {
  Bytes p;
  for (int v : {-128, -1, 0, 127}) p.push_back(static_cast<uint8_t>(v));
  Tensor i8 = parse_idx(idx_bytes(0x09, {4}, p));
  EXPECT_EQ(i8.dtype(), kInt32);
  EXPECT_EQ(i8.to_vector(), (std::vector<double>{-128, -1, 0, 127}));

  p.clear();
  for (int v : {-32768, -2, 300}) put_be(p, static_cast<uint16_t>(v), 2);
  EXPECT_EQ(parse_idx(idx_bytes(0x0B, {3}, p)).to_vector(), (std::vector<double>{-32768, -2, 300}));

  p.clear();
  for (int64_t v : {-2147483648LL, -5LL, 70000LL}) put_be(p, static_cast<uint32_t>(v), 4);
  Tensor i32 = parse_idx(idx_bytes(0x0C, {1, 3}, p));
  EXPECT_EQ(i32.shape(), (Shape{1, 3}));
  EXPECT_EQ(i32.to_vector(), (std::vector<double>{-2147483648.0, -5, 70000}));

  p.clear();
  for (float v : {1.5f, -0.25f}) put_be(p, std::bit_cast<uint32_t>(v), 4);
  Tensor f32 = parse_idx(idx_bytes(0x0D, {2}, p));
  EXPECT_EQ(f32.dtype(), kFloat32);
  EXPECT_EQ(f32.to_vector(), (std::vector<double>{1.5, -0.25}));

  p.clear();
  for (double v : {3.141592653589793, -1e300}) put_be(p, std::bit_cast<uint64_t>(v), 8);
  Tensor f64 = parse_idx(idx_bytes(0x0E, {2}, p));
  EXPECT_EQ(f64.dtype(), kFloat64);
  EXPECT_EQ(f64.to_vector(), (std::vector<double>{3.141592653589793, -1e300}));
}

TEST(Idx, EmptyDimensionGivesEmptyTensor) {
  Tensor t = parse_idx(idx_bytes(0x08, {0, 28, 28}, {}));
  EXPECT_EQ(t.shape(), (Shape{0, 28, 28}));
}

// Every hostile-input error names the file, a byte offset and the hint.
void expect_io_error(const Bytes& bytes, const std::string& what, const std::string& offset) {
  EXPECT_THAT([&] { parse_idx(bytes, "evil.idx"); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("evil.idx"), HasSubstr(what),
                                           HasSubstr("byte offset " + offset),
                                           HasSubstr("HINT: install dataset-fashion-mnist"))));
}

TEST(Idx, RejectsBadMagic) {
  expect_io_error({0x1f, 0x00, 0x08, 0x01, 0, 0, 0, 0}, "bad IDX magic", "0");
  expect_io_error({0, 0}, "too short", "2");
  expect_io_error({}, "too short", "0");
}

TEST(Idx, RejectsUnsupportedTypeAndNdim) {
  expect_io_error(idx_bytes(0x0A, {1}, {0}), "unsupported IDX type code 0xa", "2");
  expect_io_error({0, 0, 0x08, 0}, "ndim 0", "3");
  expect_io_error({0, 0, 0x08, 200}, "ndim 200", "3");
}

TEST(Idx, RejectsTruncatedHeader) {
  Bytes b = idx_bytes(0x08, {60000, 28, 28}, {});
  b.resize(9);
  expect_io_error(b, "truncated IDX header", "9");
}

TEST(Idx, RejectsOverflowingSizesBeforeAllocating) {
  expect_io_error(idx_bytes(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {}), "overflow", "4");
}

TEST(Idx, RejectsSizesLargerThanTheData) {
  // 4 GB declared, 3 bytes present: must fail before allocating.
  expect_io_error(idx_bytes(0x08, {0xFFFFFFFF}, {1, 2, 3}), "need 4294967295 bytes, only 3", "8");
  expect_io_error(idx_bytes(0x0D, {2}, {1, 2, 3, 4, 5}), "truncated IDX data", "8");
}

TEST(Idx, RejectsTrailingData) {
  expect_io_error(idx_bytes(0x08, {2}, {1, 2, 3}), "trailing data", "10");
}

TEST(Idx, RejectsTruncatedGzipStream) {
  const Bytes gz = gzip_bytes(idx_bytes(0x08, {3, 5, 7}, u8_payload()));
  const Bytes cut(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(gz.size() / 2));
  expect_io_error(cut, "truncated gzip stream", std::to_string(cut.size()));
}

TEST(Idx, RejectsGzipThatInflatesToTooLittle) {
  // The header claims 2^31 bytes; the stream holds 10: the error comes after ~10 bytes of work.
  expect_io_error(gzip_bytes(idx_bytes(0x08, {0x80000000}, Bytes(10, 7))), "stream ends after 10",
                  "18");
}

TEST(Idx, RejectsCorruptGzip) {
  Bytes gz = gzip_bytes(idx_bytes(0x08, {3, 5, 7}, u8_payload()));
  gz[10] ^= 0xFF;  // first byte of the deflate data: an invalid block type
  gz[11] ^= 0xFF;
  EXPECT_THAT([&] { parse_idx(gz, "evil.idx.gz"); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("evil.idx.gz"), HasSubstr("gzip"),
                                           HasSubstr("byte offset"))));
}

TEST(Idx, MissingFileNamesPathAndHint) {
  EXPECT_THAT([] { read_idx("/nonexistent/train-images-idx3-ubyte.gz"); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("/nonexistent/train-images-idx3-ubyte.gz"),
                                           HasSubstr("HINT: install dataset-fashion-mnist"))));
  EXPECT_THAT([] { read_mnist("/nonexistent", true); },
              ThrowsMessage<IoError>(HasSubstr("train-images-idx3-ubyte")));
}

TEST(Idx, ReadMnistChecksLabelRange) {
  const std::string dir = ::testing::TempDir() + "/bad_mnist";
  std::filesystem::create_directories(dir);
  write_temp("bad_mnist/t10k-images-idx3-ubyte", idx_bytes(0x08, {2, 28, 28}, Bytes(2 * 784)));
  write_temp("bad_mnist/t10k-labels-idx1-ubyte", idx_bytes(0x08, {2}, {3, 12}));
  EXPECT_THAT([&] { read_mnist(dir, false); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("label 12 at index 1"), HasSubstr("byte offset 9"))));
  write_temp("bad_mnist/t10k-labels-idx1-ubyte", idx_bytes(0x08, {3}, {3, 1, 2}));
  EXPECT_THAT([&] { read_mnist(dir, false); }, ThrowsMessage<IoError>(HasSubstr("expected (2) uint8")));
}

// Checks one split of the installed Fashion-MNIST against values read by Python's gzip.
void expect_split_matches_python(bool train) {
  const testing::Fixture fx = testing::load_fixture("idx_fashion_mnist");
  const std::string split = train ? "train" : "t10k";
  const MnistSplit s = read_mnist(kFashionMnistDir, train);
  const auto& shapes = fx.meta["shapes"];
  EXPECT_EQ(s.images.shape(), Shape(shapes[split + "_images"].get<std::vector<int64_t>>()));
  EXPECT_EQ(s.labels.shape(), Shape(shapes[split + "_labels"].get<std::vector<int64_t>>()));
  EXPECT_EQ(s.labels.dtype(), kInt64);
  const std::vector<double> labels_head(s.labels.data<int64_t>(), s.labels.data<int64_t>() + 20);
  const std::vector<double> image0(s.images.data<uint8_t>(), s.images.data<uint8_t>() + 784);
  EXPECT_EQ(labels_head, fx[split + "_labels_head"].to_vector());
  EXPECT_EQ(image0, fx[split + "_image0"].to_vector());
}

// The test split only: the 47 MB training images take ~1 s to inflate on a busy machine, so
// they are checked in idx_slow_test.cpp.
TEST(Idx, RealFashionMnistTestSplitMatchesPythonReader) {
  if (!std::filesystem::exists(kFashionMnistDir)) {
    GTEST_SKIP() << kFashionMnistDir << " not found: install dataset-fashion-mnist to run this test";
  }
  expect_split_matches_python(false);
}

}  // namespace
}  // namespace nabla::io
