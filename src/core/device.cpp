// Device parsing and printing.
#include "nabla/core/device.h"

#include <charconv>

#include "nabla/core/error.h"

namespace nabla {

Device::Device(std::string_view spec) {
  if (spec == "cpu") return;
  if (spec.substr(0, 4) == "cuda") {
    type = DeviceType::CUDA;
    if (spec.size() == 4) return;
    std::string_view num = spec.substr(5);
    auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), index);
    if (spec[4] == ':' && !num.empty() && ec == std::errc() && ptr == num.data() + num.size() &&
        index >= 0) {
      return;
    }
  }
  NABLA_CHECK(false, "device: cannot parse '", spec, "' (expected cpu, cuda or cuda:N)");
}

std::string Device::str() const {
  return is_cpu() ? "cpu" : "cuda:" + std::to_string(index);
}

std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

}  // namespace nabla
