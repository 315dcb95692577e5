// Source locations for error messages, trimmed to the path inside the repository.
#include "nabla/core/error.h"

#include <cstring>

namespace nabla::detail {

std::string where(const char* file, int line) {
  const char* rel = file;
  for (const char* root : {"/src/", "/include/", "/tests/", "/examples/", "/bench/"}) {
    if (const char* p = std::strstr(file, root)) {
      rel = p + 1;
      break;
    }
  }
  return concat(" (", rel, ":", line, ")");
}

void throw_internal(const char* cond, const char* file, int line, const std::string& msg) {
  throw Error(concat("internal error: ", cond, " failed", msg.empty() ? "" : ": ", msg,
                     where(file, line), "; please report this as a bug"));
}

}  // namespace nabla::detail
