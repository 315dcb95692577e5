// Devices. CPU is the one that runs today; CUDA exists so that mixing devices fails with a
// clear message and a CUDA backend can be added as another kernel folder.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

namespace nabla {

enum class DeviceType : uint8_t { CPU, CUDA };

/// A device: "cpu" or "cuda:N".
struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  Device() = default;
  Device(DeviceType t, int i = 0) : type(t), index(i) {}  // NOLINT(google-explicit-constructor)
  /// Parses "cpu", "cuda", "cuda:1"; throws nabla::Error on anything else.
  explicit Device(std::string_view spec);

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;
  bool operator==(const Device&) const = default;
};

constexpr DeviceType kCPU = DeviceType::CPU;
constexpr DeviceType kCUDA = DeviceType::CUDA;

std::ostream& operator<<(std::ostream& os, const Device& d);

}  // namespace nabla
