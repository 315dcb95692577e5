// Aligned host allocation for tensor storage, with a cache of large freed buffers, and the
// page hint for storage over a file mapping.
#include "nabla/core/storage.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "nabla/core/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define NABLA_STORAGE_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NABLA_STORAGE_CACHE 0
#endif
#endif
#ifndef NABLA_STORAGE_CACHE
#define NABLA_STORAGE_CACHE 1
#endif

namespace nabla {

namespace {

constexpr std::align_val_t kAlignment{64};  // one cache line; AVX-512 loads
constexpr size_t kMinCached = size_t{1} << 16;

// The size class of n >= kMinCached: n rounded up to a multiple of a quarter of its power of
// two (64 KiB, 80 KiB, 96 KiB, 112 KiB, 128 KiB, 160 KiB, ...).
size_t size_class(size_t n) {
  const size_t step = std::bit_floor(n) / 4;
  return (n + step - 1) / step * step;
}

// A sixth of the machine's memory (4 GiB on 24 GiB): GPT-2 124M's step at T = 256 frees and
// reallocates about 3 GiB of activations.
size_t max_cached() {
  static const size_t limit = [] {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) / 6
                                 : size_t{1} << 30;
  }();
  return limit;
}

class BufferCache {
 public:
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(bytes);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= bytes;
    return p;
  }
  // Keeps p unless the cache is full; returns whether it did.
  bool keep(void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_ + bytes > max_cached()) return false;
    free_[bytes].push_back(p);
    cached_ += bytes;
    return true;
  }
  size_t cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [bytes, list] : free_) {
      for (void* p : list) ::operator delete(p, kAlignment);
    }
    free_.clear();
    cached_ = 0;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;  // by size class
  size_t cached_ = 0;
};

// Never destroyed: tensors in static objects may be freed after every other static.
BufferCache& cache() {
  static auto* c = new BufferCache;
  return *c;
}

bool cacheable(size_t nbytes) { return NABLA_STORAGE_CACHE && nbytes >= kMinCached; }

}  // namespace

size_t cached_bytes() { return cache().cached(); }
void release_cached_memory() { cache().release(); }

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  NABLA_CHECK_T(DeviceError, device.is_cpu(), "storage: device ", device,
                " is not available in this build (only cpu)");
  if (cacheable(nbytes)) {
    data_ = cache().take(size_class(nbytes));
    if (data_ == nullptr) data_ = ::operator new(size_class(nbytes), kAlignment, std::nothrow);
  } else {
    data_ = ::operator new(nbytes == 0 ? 1 : nbytes, kAlignment, std::nothrow);
  }
  NABLA_CHECK(data_ != nullptr, "storage: cannot allocate ", nbytes, " bytes");
}

Storage::Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter,
                 bool file_pages)
    : data_(data), nbytes_(nbytes), device_(device), deleter_(std::move(deleter)),
      file_pages_(file_pages) {}

void Storage::release_file_pages(size_t offset, size_t nbytes) const {
  if (!file_pages_ || offset >= nbytes_ || nbytes == 0) return;
  nbytes = std::min(nbytes, nbytes_ - offset);
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data_) + offset;
  // Whole pages only: the partial pages at either end may hold a neighbouring tensor.
  const uintptr_t lo = (begin + page - 1) / page * page, hi = (begin + nbytes) / page * page;
  if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_PAGEOUT);
}

Storage::~Storage() {
  if (deleter_) {
    deleter_(data_);
  } else if (!cacheable(nbytes_) || !cache().keep(data_, size_class(nbytes_))) {
    ::operator delete(data_, kAlignment);
  }
}

}  // namespace nabla
