// write_file_atomic: io::detail::AtomicWriter over a byte string.
#include "nabla/io/atomic_file.h"

#include "io/io_util.h"

namespace nabla::io {

void write_file_atomic(const std::string& path, std::string_view contents,
                       const std::string& format) {
  detail::AtomicWriter out(path, format);
  out.write(contents.data(), contents.size());
  out.commit();
}

}  // namespace nabla::io
