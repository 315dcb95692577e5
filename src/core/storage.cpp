// Aligned host allocation for tensor storage.
#include "nabla/core/storage.h"

#include <new>

#include "nabla/core/error.h"

namespace nabla {

namespace {
constexpr std::align_val_t kAlignment{64};  // one cache line; AVX-512 loads
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  NABLA_CHECK_T(DeviceError, device.is_cpu(), "storage: device ", device,
                " is not available in this build (only cpu)");
  data_ = ::operator new(nbytes == 0 ? 1 : nbytes, kAlignment, std::nothrow);
  NABLA_CHECK(data_ != nullptr, "storage: cannot allocate ", nbytes, " bytes");
}

Storage::Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter)
    : data_(data), nbytes_(nbytes), device_(device), deleter_(std::move(deleter)) {}

Storage::~Storage() {
  if (deleter_) {
    deleter_(data_);
  } else {
    ::operator delete(data_, kAlignment);
  }
}

}  // namespace nabla
