// nabla::Error and the NABLA_CHECK family: every user-facing failure throws one of these
// with a message naming the operation, what was expected and what was found.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace nabla {

/// Base of every exception nabla throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
/// Incompatible or invalid shapes, sizes or indices.
class ShapeError : public Error {
 public:
  using Error::Error;
};
/// Unsupported or mismatched dtypes.
class DTypeError : public Error {
 public:
  using Error::Error;
};
/// Tensors on different or unavailable devices.
class DeviceError : public Error {
 public:
  using Error::Error;
};
/// Files: missing, truncated, corrupt or hostile input.
class IoError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}
/// "(src/ops/foo.cpp:42)": the source location appended to every message.
std::string where(const char* file, int line);
[[noreturn]] void throw_internal(const char* cond, const char* file, int line, const std::string& msg);
}  // namespace detail

}  // namespace nabla

/// Throws ErrorType with the streamed parts when cond is false.
#define NABLA_CHECK_T(ErrorType, cond, ...)                          \
  do {                                                               \
    if (!(cond)) [[unlikely]] {                                      \
      throw ErrorType(::nabla::detail::concat(__VA_ARGS__) +         \
                      ::nabla::detail::where(__FILE__, __LINE__));   \
    }                                                                \
  } while (0)
#define NABLA_CHECK(cond, ...) NABLA_CHECK_T(::nabla::Error, cond, __VA_ARGS__)
#define NABLA_CHECK_SHAPE(cond, ...) NABLA_CHECK_T(::nabla::ShapeError, cond, __VA_ARGS__)
#define NABLA_CHECK_DTYPE(cond, ...) NABLA_CHECK_T(::nabla::DTypeError, cond, __VA_ARGS__)
#define NABLA_CHECK_IO(cond, ...) NABLA_CHECK_T(::nabla::IoError, cond, __VA_ARGS__)
/// An internal invariant: failing means a bug in nabla, not bad input.
#define NABLA_ASSERT(cond, ...)                                                                 \
  do {                                                                                          \
    if (!(cond)) [[unlikely]] {                                                                 \
      ::nabla::detail::throw_internal(#cond, __FILE__, __LINE__,                                \
                                      ::nabla::detail::concat("" __VA_OPT__(, ) __VA_ARGS__)); \
    }                                                                                           \
  } while (0)
