// Tensors that view a mapped checkpoint hand their pages back to the kernel when they die, while
// the file's other tensors (which keep the mapping) stay readable; a parameter that copies a
// tensor out of it (nn::init::load_) hands the tensor's pages back at once.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "nabla/io/llama2c.h"
#include "nabla/io/safetensors.h"
#include "nabla/nn/init.h"
#include "tests/io/io_test_util.h"

namespace nabla::io {
namespace {

using testing::TempDir;

const auto kPage = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));

// How many of the whole pages inside [p, p + n) are resident.
int64_t resident_pages(const void* p, size_t n) {
  const auto begin = reinterpret_cast<uintptr_t>(p);
  const uintptr_t lo = (begin + kPage - 1) / kPage * kPage, hi = (begin + n) / kPage * kPage;
  std::vector<unsigned char> vec((hi - lo) / kPage);
  EXPECT_EQ(::mincore(reinterpret_cast<void*>(lo), hi - lo, vec.data()), 0) << std::strerror(errno);
  int64_t count = 0;
  for (unsigned char v : vec) count += v & 1;
  return count;
}

float sum_of(const Tensor& t) {
  float s = 0;
  for (int64_t i = 0; i < t.numel(); ++i) s += t.data<float>()[i];
  return s;
}

void flush_to_disk(const std::string& path) {  // so that its pages are clean, hence reclaimable
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ::fsync(fd);
  ::close(fd);
}

// Whether this kernel reclaims a file's clean pages on MADV_PAGEOUT (Linux 5.4 and later, as
// the file's owner or root), tried on a mapping of its own.
bool kernel_pages_out(const std::string& path) {
  const size_t n = 16 * kPage;
  std::vector<uint8_t> bytes(n, 7);
  testing::write_bytes(path, bytes);
  flush_to_disk(path);
  const int fd = ::open(path.c_str(), O_RDONLY);
  void* p = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) return false;
  volatile uint8_t touch = 0;
  for (size_t i = 0; i < n; i += kPage) touch = touch + static_cast<const uint8_t*>(p)[i];
  const bool ok = ::madvise(p, n, MADV_PAGEOUT) == 0 && resident_pages(p, n) == 0;
  ::munmap(p, n);
  return ok;
}

TEST(FilePages, ADeadViewReturnsItsPagesAndTheOthersStayReadable) {
  TempDir dir;
  if (!kernel_pages_out(dir.file("probe"))) {
    GTEST_SKIP() << "this kernel keeps a file's pages on MADV_PAGEOUT";
  }
  const Tensor a = testing::random_tensor({64, 1024}, kFloat32, 1);  // 64 pages
  const Tensor b = testing::random_tensor({16, 1024}, kFloat32, 2);
  const std::string path = dir.file("w.safetensors");
  save_safetensors(path, {{"a", a}, {"b", b}});
  flush_to_disk(path);

  Tensor va, vb;
  {
    const Weights w = load_safetensors(path);
    va = w.at("a");
    vb = w.at("b");
  }
  const void* pa = va.raw_data();
  const size_t na = static_cast<size_t>(va.numel()) * sizeof(float);
  EXPECT_FLOAT_EQ(sum_of(va), sum_of(a));  // views of the file, read in
  EXPECT_GE(resident_pages(pa, na), 62);
  va = Tensor();  // the last view of a's bytes: its whole pages go back
  EXPECT_EQ(resident_pages(pa, na), 0);
  EXPECT_EQ(std::memcmp(vb.raw_data(), b.raw_data(), 16 * 1024 * sizeof(float)), 0);
}

TEST(FilePages, LoadingACopyReturnsTheFilesPagesAtOnce) {
  TempDir dir;
  if (!kernel_pages_out(dir.file("probe"))) {
    GTEST_SKIP() << "this kernel keeps a file's pages on MADV_PAGEOUT";
  }
  const Llama2cConfig c{.dim = 256, .hidden_dim = 512, .n_layers = 1, .n_heads = 4,
                        .n_kv_heads = 4, .vocab_size = 64, .seq_len = 8,
                        .shared_classifier = true};
  Weights w;
  uint32_t seed = 1;
  for (const auto& [name, shape] : llama2c_tensor_shapes(c)) {
    w.add(name, testing::random_tensor(shape, kFloat32, seed++));
  }
  const std::string path = dir.file("v0.bin");
  save_llama2c(path, c, w, 0);  // a 28-byte header: no tensor starts on a 64-byte line
  flush_to_disk(path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  const auto size = static_cast<size_t>(st.st_size);
  const int fd = ::open(path.c_str(), O_RDONLY);
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  ASSERT_NE(p, MAP_FAILED);
  auto file = std::make_shared<Storage>(
      p, size, Device(), [size](void* q) { ::munmap(q, size); }, /*file_pages=*/true);
  volatile uint8_t touch = 0;
  for (size_t i = 0; i < size; i += kPage) touch = touch + static_cast<const uint8_t*>(p)[i];
  const auto pages = static_cast<int64_t>(size / kPage);
  EXPECT_GE(resident_pages(p, size), pages - 1);

  const Llama2cCheckpoint ck = parse_llama2c(file, path);  // views of the mapping
  std::vector<Tensor> params;
  for (const auto& e : ck.weights.entries()) {
    params.push_back(Tensor::empty(e.tensor.shape(), kFloat32));
    nn::init::load_(params.back(), e.tensor);  // misaligned for load_, so copied
  }
  // Left: the pages that two tensors (or the header and a tensor) share.
  EXPECT_LE(resident_pages(p, size), 2 * static_cast<int64_t>(w.size()) + 2) << "of " << pages;
  ASSERT_EQ(ck.weights.size(), w.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string& name = ck.weights.entries()[i].name;
    const Tensor& want = w.at(name);
    EXPECT_NE(params[i].raw_data(), ck.weights.at(name).raw_data()) << name;
    EXPECT_EQ(std::memcmp(params[i].raw_data(), want.raw_data(), want.numel() * sizeof(float)), 0)
        << name;
  }
}

TEST(FilePages, PagesAViewWroteStayWithIt) {
  TempDir dir;
  const Tensor a = testing::random_tensor({8, 1024}, kFloat32, 3);
  const std::string path = dir.file("w.safetensors");
  save_safetensors(path, {{"a", a}});
  const Weights w = load_safetensors(path);
  Tensor va = w.at("a");
  va.data<float>()[2048] = 42.0f;  // a private copy of that page now
  const auto& storage = va.storage();
  storage->release_file_pages(0, storage->nbytes());
  EXPECT_EQ(va.data<float>()[2048], 42.0f);
  EXPECT_EQ(va.data<float>()[0], a.data<float>()[0]);  // read from the file again if dropped
}

TEST(FilePages, MemoryThatIsNotAFileIsLeftAlone) {
  Tensor t = testing::random_tensor({64, 1024}, kFloat32, 4);
  const std::vector<float> before(t.data<float>(), t.data<float>() + t.numel());
  EXPECT_FALSE(t.storage()->file_pages());
  t.storage()->release_file_pages(0, t.storage()->nbytes());
  EXPECT_EQ(std::memcmp(t.raw_data(), before.data(), before.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace nabla::io
