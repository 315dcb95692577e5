// Shared file plumbing for src/io: error messages, memory mapping, checked arithmetic,
// tensor views of mapped bytes and the atomic writer.
#include "io/io_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <sstream>
#include <vector>

#include "nabla/kernels/cpu/copy.h"

namespace nabla::io::detail {

void fail(const std::string& format, const std::string& source, int64_t offset,
          const std::string& what, const std::string& hint) {
  // ostringstream rather than string +=: GCC 12 reports a false -Wrestrict on the latter.
  std::ostringstream os;
  os << format << ": " << what << " (" << source;
  if (offset >= 0) os << ", offset " << offset;
  os << ")";
  if (!hint.empty()) os << "\n---> HINT: " << hint;
  throw IoError(os.str());
}

namespace {
std::string errno_text() { return std::strerror(errno); }

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

std::shared_ptr<Storage> map_file(const std::string& path, const std::string& format) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    fail(format, path, -1, "cannot open: " + errno_text(), "check the path and permissions");
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) fail(format, path, -1, "fstat failed: " + errno_text());
  if (!S_ISREG(st.st_mode)) fail(format, path, -1, "not a regular file");
  const auto size = static_cast<size_t>(st.st_size);
  if (size == 0) return std::make_shared<Storage>(0, Device());
  // MAP_PRIVATE + PROT_WRITE: copy-on-write pages, so an in-place op on a loaded weight changes
  // this process's copy and can neither crash on a read-only page nor reach the file.
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, f.fd, 0);
  if (p == MAP_FAILED) fail(format, path, -1, "mmap of " + std::to_string(size) + " bytes failed: " + errno_text());
  return std::make_shared<Storage>(
      p, size, Device(), [size](void* q) { ::munmap(q, size); }, /*file_pages=*/true);
}

bool mul_ok(int64_t a, int64_t b, int64_t* out) {
  return a >= 0 && b >= 0 && !__builtin_mul_overflow(a, b, out);
}

bool add_ok(int64_t a, int64_t b, int64_t* out) {
  return a >= 0 && b >= 0 && !__builtin_add_overflow(a, b, out);
}

Tensor view_bytes(const std::shared_ptr<Storage>& file, int64_t offset, const Shape& shape,
                  DType dtype) {
  const size_t esize = element_size(dtype);
  const int64_t n = numel_of(shape);
  const auto nbytes = static_cast<size_t>(n) * esize;
  NABLA_ASSERT(offset >= 0 && static_cast<size_t>(offset) + nbytes <= file->nbytes());
  auto* src = static_cast<uint8_t*>(file->data()) + offset;
  if (n == 0) return Tensor::empty(shape, dtype);
  if (reinterpret_cast<uintptr_t>(src) % esize != 0) {  // a view would be a misaligned T*
    Tensor t = Tensor::empty(shape, dtype);
    std::memcpy(t.raw_data(), src, nbytes);
    return t;
  }
  // When the view dies its pages go back to the kernel, not only when the file's last view
  // does: a model that packs its weights to int8 frees the f32 ones one by one.
  auto storage = std::make_shared<Storage>(
      src, nbytes, file->device(),
      [keep = file, offset, nbytes](void*) mutable {
        keep->release_file_pages(static_cast<size_t>(offset), nbytes);
        keep.reset();
      },
      file->file_pages());
  return Tensor::make_view(storage, shape, contiguous_strides(shape), 0, dtype);
}

Tensor contiguous_copy(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  kernels::cpu::copy_strided(out.raw_data(), t.raw_data(), t.element_size(), t.shape().data(),
                             t.strides().data(), t.dim());
  return out;
}

AtomicWriter::AtomicWriter(std::string path, std::string format)
    : path_(std::move(path)), format_(std::move(format)) {
  tmp_ = path_ + ".tmp." + std::to_string(::getpid());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    fail(format_, path_, -1, "cannot create " + tmp_ + ": " + errno_text(),
         "check that the directory exists and is writable");
  }
}

AtomicWriter::~AtomicWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicWriter::fail_syscall(const std::string& call) {
  const std::string err = errno_text();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_.c_str());
  fail(format_, path_, written_, call + " failed: " + err + "; the previous file is unchanged",
       "check free disk space, quotas and permissions");
}

void AtomicWriter::write(const void* data, size_t nbytes) {
  NABLA_ASSERT(fd_ >= 0 && !committed_, "write after commit or failure");
  const auto* p = static_cast<const uint8_t*>(data);
  while (nbytes > 0) {
    const ssize_t n = ::write(fd_, p, nbytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      fail_syscall("write to " + tmp_);
    }
    p += n;
    nbytes -= static_cast<size_t>(n);
    written_ += n;
  }
}

void AtomicWriter::write_zeros(size_t n) {
  static const std::vector<uint8_t> zeros(1 << 16, 0);
  while (n > 0) {
    const size_t k = std::min(n, zeros.size());
    write(zeros.data(), k);
    n -= k;
  }
}

void AtomicWriter::write_tensor(const Tensor& t, DType dtype) {
  // Converted in chunks so that saving never needs a second copy of a large tensor.
  constexpr int64_t kChunk = 1 << 20;
  const Tensor c = contiguous_copy(t);
  const int64_t n = c.numel();
  const auto* src = static_cast<const uint8_t*>(c.raw_data());
  if (dtype == c.dtype()) {
    write(src, c.nbytes());
    return;
  }
  std::vector<uint8_t> buf(static_cast<size_t>(std::min(n, kChunk)) * element_size(dtype));
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t k = std::min(kChunk, n - i);
    kernels::cpu::convert(buf.data(), dtype, src + static_cast<size_t>(i) * c.element_size(),
                          c.dtype(), k);
    write(buf.data(), static_cast<size_t>(k) * element_size(dtype));
  }
}

void AtomicWriter::commit() {
  NABLA_ASSERT(fd_ >= 0 && !committed_, "commit twice or after failure");
  if (::fsync(fd_) != 0) fail_syscall("fsync of " + tmp_);
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail_syscall("close of " + tmp_);
  }
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail_syscall("rename to " + path_);
  committed_ = true;
  // The rename is durable only once the directory entry is on disk.
  std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  if (dir.empty()) dir = std::filesystem::path(".");
  Fd d;
  d.fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d.fd < 0 || ::fsync(d.fd) != 0) {
    fail(format_, path_, -1, "fsync of directory " + dir.string() + " failed: " + errno_text(),
         "the file was written but may not survive a crash");
  }
}

}  // namespace nabla::io::detail
