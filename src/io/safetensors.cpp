// safetensors reader and writer. Reading: length -> JSON header -> per-entry checks ->
// offsets cover the data buffer exactly once (no overlap, no hole, as the format requires)
// -> tensors. Nothing is allocated from an unchecked size.
#include "nabla/io/safetensors.h"

#include <algorithm>
#include <sstream>

#include "io/io_util.h"
#include "io/json_internal.h"
#include "nabla/kernels/cpu/f16.h"

namespace nabla::io {

namespace {

constexpr const char* kFormat = "safetensors";
constexpr const char* kHint =
    "the file is truncated or not a safetensors file; re-download or re-save it";

struct Entry {
  std::string name;
  std::string dtype_name;
  DType dtype = DType::F32;  // the loaded dtype (F16 loads as F32)
  size_t file_esize = 4;     // element size in the file
  Shape shape;
  int64_t begin = 0, end = 0;
};

// nabla dtypes by safetensors name; F16 is read (widened) but not written.
bool dtype_from_name(const std::string& s, DType* t, size_t* esize) {
  static const std::pair<const char*, DType> kTable[] = {
      {"F32", kFloat32}, {"F64", kFloat64}, {"BF16", kBFloat16}, {"I32", kInt32},
      {"I64", kInt64},   {"U8", kUInt8},    {"BOOL", kBool}};
  for (const auto& [name, dt] : kTable) {
    if (s == name) {
      *t = dt;
      *esize = element_size(dt);
      return true;
    }
  }
  if (s == "F16") {
    *t = kFloat32;
    *esize = 2;
    return true;
  }
  return false;
}

const char* dtype_to_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
    case DType::Bool: return "BOOL";
  }
  return "?";
}

class Parser {
 public:
  Parser(std::shared_ptr<Storage> buf, std::string source)
      : buf_(std::move(buf)), source_(std::move(source)),
        bytes_(static_cast<const uint8_t*>(buf_->data())), size_(buf_->nbytes()) {}

  Weights run() {
    const nlohmann::json header = read_header();
    Weights w(kFormat, source_);
    std::vector<Entry> entries;
    for (const auto& [key, value] : header.items()) {
      if (key == "__metadata__") {
        read_metadata(value, &w);
      } else {
        entries.push_back(read_entry(key, value));
      }
    }
    check_coverage(&entries);
    for (const Entry& e : entries) w.add(e.name, load(e), data_start_ + e.begin);
    return w;
  }

 private:
  [[noreturn]] void fail(int64_t offset, const std::string& what, const std::string& hint = kHint) const {
    detail::fail(kFormat, source_, offset, what, hint);
  }

  nlohmann::json read_header() {
    if (size_ < 8) {
      fail(0, "file is " + std::to_string(size_) + " bytes, too small for the 8-byte header length");
    }
    const auto n = detail::load_le<uint64_t>(bytes_, 0);
    if (n > static_cast<uint64_t>(kSafetensorsMaxHeader)) {
      fail(0, "header length " + std::to_string(n) + " exceeds the 100 MB limit");
    }
    if (n > size_ - 8) {
      fail(0, "header length " + std::to_string(n) + " exceeds the file size " +
                  std::to_string(size_));
    }
    data_start_ = 8 + static_cast<int64_t>(n);
    std::string_view text(reinterpret_cast<const char*>(bytes_) + 8, n);
    // Root object, tensor entry / metadata object, shape / offsets array: 3 levels.
    nlohmann::json h = detail::parse_json(text, kFormat, source_, 8, 3, kHint);
    if (!h.is_object()) fail(8, "header is JSON " + std::string(h.type_name()) + ", expected an object");
    return h;
  }

  void read_metadata(const nlohmann::json& v, Weights* w) const {
    if (!v.is_object()) fail(8, "__metadata__ must be an object of strings");
    for (const auto& [k, s] : v.items()) {
      if (!s.is_string()) fail(8, "__metadata__ value for \"" + k + "\" is not a string: " + s.dump());
      w->metadata[k] = s.get<std::string>();
    }
  }

  // Non-negative JSON integer, or fail naming what it was for.
  int64_t get_index(const nlohmann::json& v, const std::string& what) const {
    if (!v.is_number_unsigned() || v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      fail(8, what + " must be a non-negative integer, got " + v.dump());
    }
    return v.get<int64_t>();
  }

  Entry read_entry(const std::string& name, const nlohmann::json& v) const {
    if (!v.is_object()) fail(8, "entry for " + name + " is not an object");
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      if (!v.contains(field)) fail(8, name + " has no \"" + field + "\"");
    }
    Entry e;
    e.name = name;
    const auto& dt = v["dtype"];
    if (!dt.is_string()) fail(8, name + ": dtype must be a string, got " + dt.dump());
    e.dtype_name = dt.get<std::string>();
    if (!dtype_from_name(e.dtype_name, &e.dtype, &e.file_esize)) {
      fail(8, name + " has dtype " + e.dtype_name + ", which nabla does not support",
           "supported: F32, F16 (loaded as f32), BF16, F64, I32, I64, U8, BOOL; convert the "
           "tensor before saving");
    }
    const auto& sh = v["shape"];
    if (!sh.is_array() || sh.size() > static_cast<size_t>(kMaxDims)) {
      fail(8, name + ": shape must be an array of at most 16 sizes, got " + sh.dump());
    }
    int64_t numel = 1;
    for (const auto& d : sh) {
      e.shape.push_back(get_index(d, name + ": shape entry"));
      if (!detail::mul_ok(numel, e.shape.back(), &numel)) fail(8, name + ": shape " + sh.dump() + " overflows");
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2) fail(8, name + ": data_offsets must be [begin, end], got " + off.dump());
    e.begin = get_index(off[0], name + ": data_offsets begin");
    e.end = get_index(off[1], name + ": data_offsets end");
    const int64_t buffer = static_cast<int64_t>(size_) - data_start_;
    if (e.begin > e.end || e.end > buffer) {
      fail(8, name + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                  "] do not fit the data buffer of " + std::to_string(buffer) + " bytes");
    }
    int64_t nbytes = 0;
    if (!detail::mul_ok(numel, static_cast<int64_t>(e.file_esize), &nbytes) || nbytes != e.end - e.begin) {
      fail(8, name + ": shape " + e.shape.str() + " of " + e.dtype_name + " needs " +
                  (nbytes > 0 || numel == 0 ? std::to_string(nbytes) : std::string("too many")) +
                  " bytes, but data_offsets span " + std::to_string(e.end - e.begin));
    }
    return e;
  }

  // The spec: the data buffer is covered by the tensors exactly, in offset order, without
  // overlaps or holes (so no hidden payload can ride along).
  void check_coverage(std::vector<Entry>* entries) const {
    std::stable_sort(entries->begin(), entries->end(), [](const Entry& a, const Entry& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    int64_t expected = 0;
    for (const Entry& e : *entries) {
      if (e.begin != expected) {
        fail(data_start_ + e.begin,
             e.name + " starts at data byte " + std::to_string(e.begin) + " but the previous tensor ends at " +
                 std::to_string(expected) + (e.begin < expected ? " (overlap)" : " (hole)"));
      }
      expected = e.end;
    }
    const int64_t buffer = static_cast<int64_t>(size_) - data_start_;
    if (expected != buffer) {
      fail(data_start_ + expected, "tensors cover " + std::to_string(expected) + " bytes of a " +
                                       std::to_string(buffer) + "-byte data buffer (trailing bytes)");
    }
  }

  Tensor load(const Entry& e) const {
    const int64_t at = data_start_ + e.begin;
    if (e.dtype_name == "F16") {
      Tensor t = Tensor::empty(e.shape, kFloat32);
      // The source may be misaligned for uint16_t: widen from an aligned copy in that case.
      const uint8_t* src = bytes_ + at;
      std::vector<uint16_t> tmp;
      if (reinterpret_cast<uintptr_t>(src) % 2 != 0) {
        tmp.resize(static_cast<size_t>(t.numel()));
        std::memcpy(tmp.data(), src, tmp.size() * 2);
        src = reinterpret_cast<const uint8_t*>(tmp.data());
      }
      kernels::cpu::f16_to_f32(t.data<float>(), reinterpret_cast<const uint16_t*>(src), t.numel());
      return t;
    }
    if (e.dtype == kBool) {  // any byte other than 0/1 is not a valid C++ bool
      for (int64_t i = e.begin; i < e.end; ++i) {
        if (bytes_[data_start_ + i] > 1) fail(data_start_ + i, e.name + ": BOOL byte is neither 0 nor 1");
      }
    }
    return detail::view_bytes(buf_, at, e.shape, e.dtype);
  }

  std::shared_ptr<Storage> buf_;
  std::string source_;
  const uint8_t* bytes_;
  size_t size_;
  int64_t data_start_ = 0;
};

}  // namespace

Weights parse_safetensors(std::shared_ptr<Storage> buffer, const std::string& source) {
  NABLA_CHECK(buffer != nullptr, "parse_safetensors: null buffer");
  return Parser(std::move(buffer), source).run();
}

Weights load_safetensors(const std::string& path) {
  return parse_safetensors(detail::map_file(path, kFormat), path);
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // Largest elements first: with an 8-aligned data start every tensor is then aligned.
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return tensors[a].second.element_size() > tensors[b].second.element_size();
  });
  nlohmann::json header = nlohmann::json::object();
  int64_t offset = 0;
  for (size_t i : order) {
    const auto& [name, t] = tensors[i];
    NABLA_CHECK_IO(!name.empty() && name != "__metadata__", "safetensors: invalid tensor name \"",
                   name, "\" for ", path);
    NABLA_CHECK_IO(t.defined(), "safetensors: tensor ", name, " is undefined (", path, ")");
    NABLA_CHECK_IO(!header.contains(name), "safetensors: duplicate tensor name ", name, " (", path, ")");
    const auto nbytes = static_cast<int64_t>(t.nbytes());
    header[name] = {{"dtype", dtype_to_name(t.dtype())},
                    {"shape", std::vector<int64_t>(t.shape().begin(), t.shape().end())},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-aligned (reference pads with spaces)
  detail::AtomicWriter out(path, kFormat);
  const uint64_t n = text.size();
  out.write(&n, sizeof n);
  out.write(text.data(), text.size());
  for (size_t i : order) out.write_tensor(tensors[i].second, tensors[i].second.dtype());
  out.commit();
}

void save_safetensors(const std::string& path, const Weights& weights) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  tensors.reserve(weights.size());
  for (const auto& e : weights.entries()) tensors.emplace_back(e.name, e.tensor);
  save_safetensors(path, tensors, weights.metadata);
}

}  // namespace nabla::io
