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
  Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  uint64_t version_ = 0;
  std::function<void(void*)> deleter_;
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
