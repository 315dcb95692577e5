// Internals shared by the checkpoint readers and writers: IoError messages with file, offset
// and hint; memory-mapping a file into a Storage; checked arithmetic; little-endian fields;
// views of a byte buffer as tensors; atomic file writes.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "nabla/core/error.h"
#include "nabla/core/storage.h"
#include "nabla/core/tensor.h"

namespace nabla::io::detail {

static_assert(std::endian::native == std::endian::little,
              "checkpoint formats are little-endian; a big-endian host needs byte swaps");

/// Throws IoError: "<format>: <what> (<source>, offset <offset>)\n---> HINT: <hint>".
/// offset < 0 leaves the offset out; an empty hint leaves the hint line out.
[[noreturn]] void fail(const std::string& format, const std::string& source, int64_t offset,
                       const std::string& what, const std::string& hint = "");

/// The whole file as a Storage over a private (copy-on-write) memory mapping: the file is
/// opened read-only and never modified, and in-place edits of loaded tensors stay in memory.
std::shared_ptr<Storage> map_file(const std::string& path, const std::string& format);

/// a * b and a + b for sizes, or false on overflow (all operands non-negative).
bool mul_ok(int64_t a, int64_t b, int64_t* out);
bool add_ok(int64_t a, int64_t b, int64_t* out);

/// Reads a little-endian T at byte offset (the caller has checked the bounds).
template <typename T>
T load_le(const uint8_t* base, size_t offset) {
  T v;
  std::memcpy(&v, base + offset, sizeof(T));
  return v;
}

/// A tensor over nbytes of `file` at `offset`, sharing it without a copy when the address is
/// aligned for dtype, copying otherwise. Each tensor gets its own Storage (its own version
/// counter) that keeps the file's Storage alive and, when it dies, hands its whole pages back
/// to the kernel (Storage::release_file_pages).
Tensor view_bytes(const std::shared_ptr<Storage>& file, int64_t offset, const Shape& shape,
                  DType dtype);

/// A contiguous copy of t's elements (t itself when already contiguous).
Tensor contiguous_copy(const Tensor& t);

/// Writes a file atomically: the bytes go to "<path>.tmp.<pid>", which is fsync'ed and
/// renamed over path, then the directory is fsync'ed. If anything fails, the temporary file is
/// removed, path keeps its old contents, and IoError names the failing call.
class AtomicWriter {
 public:
  AtomicWriter(std::string path, std::string format);
  ~AtomicWriter();  ///< removes the temporary file unless commit() succeeded
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;

  void write(const void* data, size_t nbytes);
  /// Writes t's elements in row-major order, converted to dtype.
  void write_tensor(const Tensor& t, DType dtype);
  /// Writes n zero bytes.
  void write_zeros(size_t n);
  int64_t bytes_written() const { return written_; }
  /// fsync, rename over the target, fsync the directory.
  void commit();

 private:
  [[noreturn]] void fail_syscall(const std::string& call);
  std::string path_;
  std::string tmp_;
  std::string format_;
  int fd_ = -1;
  int64_t written_ = 0;
  bool committed_ = false;
};

}  // namespace nabla::io::detail
