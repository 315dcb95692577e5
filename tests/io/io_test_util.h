// Helpers for the io tests: a fresh temporary directory per test, raw file bytes, random
// tensors filled without the ops layer, and bitwise tensor comparison.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "nabla/core/tensor.h"

namespace nabla::io::testing {

/// A directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("nabla_io_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_)) out.push_back(e.path().filename());
    return out;
  }

 private:
  std::filesystem::path path_;
};

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
void append(std::vector<uint8_t>* bytes, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  bytes->insert(bytes->end(), p, p + sizeof(T));
}

/// A contiguous tensor of random values (floats ~ N(0, 1), integers random, bools 0/1).
inline Tensor random_tensor(const Shape& shape, DType dtype, uint32_t seed) {
  Tensor t = Tensor::empty(shape, dtype);
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal;
  const int64_t n = t.numel();
  switch (dtype) {
    case DType::F32: for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = normal(gen); break;
    case DType::F64: for (int64_t i = 0; i < n; ++i) t.data<double>()[i] = normal(gen); break;
    case DType::BF16: for (int64_t i = 0; i < n; ++i) t.data<BFloat16>()[i] = BFloat16(normal(gen)); break;
    case DType::I32: for (int64_t i = 0; i < n; ++i) t.data<int32_t>()[i] = static_cast<int32_t>(gen()); break;
    case DType::I64:
      for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[i] = static_cast<int64_t>(uint64_t{gen()} << 32 | gen());
      break;
    case DType::U8: for (int64_t i = 0; i < n; ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(gen()); break;
    case DType::Bool: for (int64_t i = 0; i < n; ++i) t.data<bool>()[i] = (gen() & 1) != 0; break;
  }
  return t;
}

/// Row-major bytes of t (any strides).
inline std::vector<uint8_t> tensor_bytes(const Tensor& t) {
  std::vector<uint8_t> out(t.nbytes());
  const size_t es = t.element_size();
  const int64_t n = t.numel();
  std::vector<int64_t> idx(static_cast<size_t>(t.dim()), 0);
  const auto* base = static_cast<const uint8_t*>(t.raw_data());
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (int64_t d = 0; d < t.dim(); ++d) off += idx[d] * t.stride(d);
    std::memcpy(out.data() + static_cast<size_t>(i) * es, base + off * static_cast<int64_t>(es), es);
    for (int64_t d = t.dim() - 1; d >= 0; --d) {
      if (++idx[d] < t.size(d)) break;
      idx[d] = 0;
    }
  }
  return out;
}

/// Same shape, dtype and bytes.
inline ::testing::AssertionResult bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) {
    return ::testing::AssertionFailure() << a.describe() << " vs " << b.describe();
  }
  if (tensor_bytes(a) != tensor_bytes(b)) return ::testing::AssertionFailure() << "bytes differ";
  return ::testing::AssertionSuccess();
}

}  // namespace nabla::io::testing
