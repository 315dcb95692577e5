// Storage: a reference-counted, 64-byte aligned buffer that tensors view. A version counter
// counts in-place writes so autograd can tell when a saved tensor was modified. Buffers of
// 64 KiB and more are cached when freed and handed out again (see cached_bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "nabla/core/device.h"

namespace nabla {

class Storage {
 public:
  /// Allocates nbytes (uninitialised); throws nabla::Error when the allocation fails.
  Storage(size_t nbytes, Device device);
  /// Wraps memory owned elsewhere (e.g. a memory-mapped file); deleter runs on destruction.
  /// file_pages: the memory is a private mapping of a file, whose pages (those this process
  /// has not written) the kernel can drop and read again from the file (see io's view_bytes).
  Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter,
          bool file_pages = false);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }
  bool file_pages() const { return file_pages_; }
  /// For file pages: hands the whole pages within [offset, offset + nbytes) back to the
  /// kernel, which reads them from the file again if they are touched (a page this process
  /// wrote stays: it is no longer the file's). A hint: does nothing for other storage, or
  /// where the kernel declines (MADV_PAGEOUT needs Linux 5.4 and the file's owner or root).
  void release_file_pages(size_t offset, size_t nbytes) const;

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  uint64_t version_ = 0;
  std::function<void(void*)> deleter_;
  bool file_pages_ = false;
};

/// Bytes of freed buffers that nabla keeps for reuse. Every step of training or decoding frees
/// and allocates the same large activation buffers; without the cache glibc returns them to
/// the system and page-faults them back in (about a fifth of a small model's decode step).
/// Buffers of 64 KiB and more are kept by size class (steps of 1/4 of a power of two, so at
/// most 25% is unused), up to a sixth of the machine's memory in all. Off under AddressSanitizer, so that it still
/// catches use after free.
size_t cached_bytes();
/// Returns every cached buffer to the system (torch.cuda.empty_cache for nabla's host memory).
void release_cached_memory();

}  // namespace nabla
