// IDX reader (MNIST format): header check, then the payload, read from raw bytes or through
// zlib. Hostile input is the norm here (it is fuzzed): every size is checked against the data
// actually present before anything is allocated, and every failure names file and byte offset.
#include "nabla/io/idx.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <vector>

namespace nabla::io {
namespace {

constexpr const char* kHint =
    "\n---> HINT: install dataset-fashion-mnist (Debian package, files in "
    "/usr/share/datasets/fashion-mnist) or download the file again";

template <typename... Parts>
[[noreturn]] void fail(const std::string& name, uint64_t offset, const Parts&... parts) {
  throw IoError(detail::concat("idx: ", name, ": ", parts..., " (byte offset ", offset, ")", kHint));
}

// Sequential reads from raw bytes, or from a gzip stream inflated on demand. offset() counts
// IDX bytes (decompressed) handed out so far.
class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {
    gzip_ = bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
    if (gzip_) {
      zs_ = std::make_unique<z_stream>();
      // 15 + 16: a gzip wrapper (not zlib), with the largest window.
      if (inflateInit2(zs_.get(), 15 + 16) != Z_OK) {
        zs_.reset();
        fail(name_, 0, "zlib inflateInit2 failed");
      }
    }
  }
  ~Reader() {
    if (zs_) inflateEnd(zs_.get());
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  bool gzip() const { return gzip_; }
  uint64_t offset() const { return offset_; }
  /// Bytes left for raw input (exact); for gzip input the compressed bytes left (a hint only).
  uint64_t raw_remaining() const { return bytes_.size() - std::min<uint64_t>(offset_, bytes_.size()); }

  /// Copies up to n bytes into dst; fewer only at the end of the data.
  size_t read(uint8_t* dst, size_t n) {
    size_t got = 0;
    if (!gzip_) {
      got = static_cast<size_t>(std::min<uint64_t>(n, raw_remaining()));
      if (got > 0) std::memcpy(dst, bytes_.data() + offset_, got);
    } else {
      got = inflate_into(dst, n);
    }
    offset_ += got;
    return got;
  }

 private:
  size_t inflate_into(uint8_t* dst, size_t n) {
    size_t got = 0;
    while (got < n && !ended_) {
      if (zs_->avail_in == 0 && consumed_ < bytes_.size()) {
        // avail_in is 32-bit: feed large inputs in pieces.
        const size_t chunk = std::min<size_t>(bytes_.size() - consumed_, UINT_MAX);
        zs_->next_in = const_cast<Bytef*>(bytes_.data() + consumed_);  // zlib never writes it
        zs_->avail_in = static_cast<uInt>(chunk);
        consumed_ += chunk;
      }
      const size_t want = std::min<size_t>(n - got, UINT_MAX);
      zs_->next_out = dst + got;
      zs_->avail_out = static_cast<uInt>(want);
      const int rc = inflate(zs_.get(), Z_NO_FLUSH);
      got += want - zs_->avail_out;
      if (rc == Z_STREAM_END) {
        ended_ = true;
      } else if (rc == Z_BUF_ERROR) {  // no progress possible: the input ran out mid-stream
        fail(name_, bytes_.size(), "truncated gzip stream: compressed data ends before the gzip "
             "trailer");
      } else if (rc != Z_OK) {
        fail(name_, consumed_ - zs_->avail_in, "corrupt gzip stream: ",
             zs_->msg != nullptr ? zs_->msg : "zlib error ", rc);
      }
    }
    return got;
  }

  std::span<const uint8_t> bytes_;
  std::string name_;
  bool gzip_ = false;
  bool ended_ = false;
  uint64_t offset_ = 0;    // IDX bytes handed out
  size_t consumed_ = 0;    // compressed bytes given to zlib
  std::unique_ptr<z_stream> zs_;
};

struct Header {
  DType dtype = DType::U8;
  uint8_t type_code = 0;
  size_t file_elem_bytes = 1;  // element size in the file (i8/i16 widen to int32 in memory)
  Shape sizes;
  uint64_t numel = 0;
  uint64_t data_bytes = 0;
};

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void set_type(Header& h, uint8_t code, const std::string& name) {
  h.type_code = code;
  switch (code) {
    case 0x08: h.dtype = DType::U8; h.file_elem_bytes = 1; break;
    case 0x09: h.dtype = DType::I32; h.file_elem_bytes = 1; break;
    case 0x0B: h.dtype = DType::I32; h.file_elem_bytes = 2; break;
    case 0x0C: h.dtype = DType::I32; h.file_elem_bytes = 4; break;
    case 0x0D: h.dtype = DType::F32; h.file_elem_bytes = 4; break;
    case 0x0E: h.dtype = DType::F64; h.file_elem_bytes = 8; break;
    default:
      fail(name, 2, "unsupported IDX type code 0x", std::hex, int{code}, std::dec,
           " (expected 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32 or 0x0E f64)");
  }
}

Header read_header(Reader& r, const std::string& name) {
  uint8_t magic[4] = {};
  if (r.read(magic, 4) < 4) fail(name, r.offset(), "too short for the 4-byte IDX magic");
  if (magic[0] != 0 || magic[1] != 0) {
    fail(name, 0, "bad IDX magic ", std::hex, int{magic[0]}, " ", int{magic[1]}, std::dec,
         " (expected 00 00 <type> <ndim>; is this an IDX file?)");
  }
  Header h;
  set_type(h, magic[2], name);
  const int ndim = magic[3];
  if (ndim < 1 || ndim > kMaxDims) fail(name, 3, "IDX ndim ", ndim, " is not in [1, ", kMaxDims, "]");
  std::vector<uint8_t> dims(4 * static_cast<size_t>(ndim));
  if (r.read(dims.data(), dims.size()) < dims.size()) {
    fail(name, r.offset(), "truncated IDX header: ", ndim, " sizes need ", dims.size(), " bytes");
  }
  bool any_zero = false;
  for (int i = 0; i < ndim; ++i) {
    h.sizes.push_back(load_be32(&dims[4 * static_cast<size_t>(i)]));
    any_zero = any_zero || h.sizes.back() == 0;
  }
  // Overflow check before any multiplication result is used: numel * element size must fit
  // in int64 (the tensor's numel and nbytes).
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / 8;
  h.numel = any_zero ? 0 : 1;
  for (int64_t s : h.sizes) {
    if (any_zero) break;
    if (h.numel > limit / static_cast<uint64_t>(s)) {
      fail(name, 4, "IDX sizes ", h.sizes, " overflow (more than 2^60 elements)");
    }
    h.numel *= static_cast<uint64_t>(s);
  }
  h.data_bytes = h.numel * h.file_elem_bytes;
  return h;
}

// The payload, grown as data arrives so a lying header cannot make us allocate more than
// twice what is actually present.
std::vector<uint8_t> read_payload(Reader& r, const Header& h, const std::string& name) {
  const uint64_t start = r.offset();
  if (!r.gzip() && r.raw_remaining() < h.data_bytes) {
    fail(name, start, "truncated IDX data: sizes ", h.sizes, " need ", h.data_bytes,
         " bytes, only ", r.raw_remaining(), " present");
  }
  std::vector<uint8_t> buf;
  uint64_t got = 0;
  while (got < h.data_bytes) {
    const uint64_t want = std::min<uint64_t>(h.data_bytes - got, std::max<uint64_t>(got, 1 << 20));
    buf.resize(static_cast<size_t>(got + want));
    const size_t k = r.read(buf.data() + got, static_cast<size_t>(want));
    got += k;
    if (k < want) {
      fail(name, r.offset(), "truncated IDX data: sizes ", h.sizes, " need ", h.data_bytes,
           " bytes, the stream ends after ", got);
    }
  }
  uint8_t extra = 0;
  if (r.read(&extra, 1) != 0) {
    fail(name, start + h.data_bytes, "trailing data after the ", h.data_bytes,
         " bytes that sizes ", h.sizes, " declare");
  }
  return buf;
}

// Big-endian file elements -> the tensor's native dtype.
Tensor decode(const Header& h, const std::vector<uint8_t>& buf) {
  Tensor t = Tensor::empty(h.sizes, h.dtype);
  const size_t n = static_cast<size_t>(h.numel);
  const uint8_t* p = buf.data();
  switch (h.type_code) {
    case 0x08:
      if (n > 0) std::memcpy(t.data<uint8_t>(), p, n);
      break;
    case 0x09:
      for (size_t i = 0; i < n; ++i) t.data<int32_t>()[i] = static_cast<int8_t>(p[i]);
      break;
    case 0x0B:
      for (size_t i = 0; i < n; ++i) {
        t.data<int32_t>()[i] = static_cast<int16_t>((p[2 * i] << 8) | p[2 * i + 1]);
      }
      break;
    case 0x0C:
      for (size_t i = 0; i < n; ++i) t.data<int32_t>()[i] = static_cast<int32_t>(load_be32(p + 4 * i));
      break;
    case 0x0D:
      for (size_t i = 0; i < n; ++i) t.data<float>()[i] = std::bit_cast<float>(load_be32(p + 4 * i));
      break;
    default:  // 0x0E
      for (size_t i = 0; i < n; ++i) {
        const uint64_t v = (uint64_t{load_be32(p + 8 * i)} << 32) | load_be32(p + 8 * i + 4);
        t.data<double>()[i] = std::bit_cast<double>(v);
      }
  }
  return t;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    throw IoError(detail::concat("idx: cannot open ", path, ": ", std::strerror(errno), kHint));
  }
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t k = 0;
  while ((k = std::fread(chunk, 1, sizeof chunk, f.get())) > 0) bytes.insert(bytes.end(), chunk, chunk + k);
  if (std::ferror(f.get()) != 0) {
    throw IoError(detail::concat("idx: error reading ", path, " at byte offset ", bytes.size(), ": ",
                                 std::strerror(errno)));
  }
  return bytes;
}

std::string find_split_file(const std::string& dir, const std::string& stem) {
  for (const std::string& p : {dir + "/" + stem + ".gz", dir + "/" + stem}) {
    if (std::filesystem::exists(p)) return p;
  }
  throw IoError(detail::concat("mnist: neither ", stem, ".gz nor ", stem, " is in ", dir, kHint));
}

}  // namespace

Tensor parse_idx(std::span<const uint8_t> bytes, const std::string& name) {
  Reader r(bytes, name);
  const Header h = read_header(r, name);
  return decode(h, read_payload(r, h, name));
}

Tensor read_idx(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  return parse_idx(bytes, path);
}

MnistSplit read_mnist(const std::string& dir, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  const std::string images_path = find_split_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_split_file(dir, prefix + "-labels-idx1-ubyte");
  Tensor images = read_idx(images_path);
  Tensor raw_labels = read_idx(labels_path);
  NABLA_CHECK_IO(images.dtype() == kUInt8 && images.dim() == 3 && images.size(1) == 28 &&
                     images.size(2) == 28,
                 "mnist: ", images_path, " holds ", images.describe(),
                 ", expected (N, 28, 28) uint8", kHint);
  NABLA_CHECK_IO(raw_labels.dtype() == kUInt8 && raw_labels.dim() == 1 &&
                     raw_labels.size(0) == images.size(0),
                 "mnist: ", labels_path, " holds ", raw_labels.describe(), ", expected (",
                 images.size(0), ") uint8 to match ", images_path, kHint);
  Tensor labels = Tensor::empty({raw_labels.size(0)}, kInt64);
  const uint8_t* src = raw_labels.data<uint8_t>();
  for (int64_t i = 0; i < labels.size(0); ++i) {
    NABLA_CHECK_IO(src[i] < 10, "mnist: ", labels_path, ": label ", int{src[i]}, " at index ", i,
                   " (byte offset ", 8 + i, ") is not a class in [0, 10)", kHint);
    labels.data<int64_t>()[i] = src[i];
  }
  return {images, labels};
}

}  // namespace nabla::io
