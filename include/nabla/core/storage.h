// Storage: a reference-counted, 64-byte aligned buffer that tensors view. A version counter
// counts in-place writes so autograd can tell when a saved tensor was modified.
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

}  // namespace nabla
