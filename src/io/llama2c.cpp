// llama2.c checkpoint reader/writer. A "plan" lists the arrays of a file in order for a
// config and version; the reader checks the header, computes the exact file size from the
// plan with overflow checks, and only then views (f32) or dequantizes (Q8_0) the arrays.
#include "nabla/io/llama2c.h"

#include <cmath>
#include <sstream>

#include "io/io_util.h"

namespace nabla::io {

namespace {

constexpr const char* kFormat = "llama2.c";
constexpr uint32_t kMagic = 0x616b3432;  // "ak42"
constexpr int64_t kVersionedHeader = 256;
constexpr int64_t kLegacyHeader = 7 * 4;
// Generous caps (Llama 2 70B: dim 8192, hidden 28672, 80 layers, 64 heads, vocab 32000):
// they only stop garbage headers from driving the size arithmetic.
constexpr int64_t kMaxDim = 1 << 16, kMaxHidden = 1 << 20, kMaxLayers = 1 << 12;
constexpr int64_t kMaxHeads = 1 << 12, kMaxVocab = 1 << 24, kMaxSeq = 1 << 24;

enum class Kind { F32, Q8, Skip };
struct Item {
  std::string name;
  Shape shape;
  Kind kind;
};

std::string layer_name(int64_t l, const char* what) {
  return "layers." + std::to_string(l) + "." + what;
}

std::vector<Item> plan(const Llama2cConfig& c, int version) {
  const int64_t D = c.dim, H = c.hidden_dim, KV = c.kv_dim(), V = c.vocab_size;
  const Kind mat = version == 2 ? Kind::Q8 : Kind::F32;
  std::vector<Item> items;
  auto layers = [&](const char* what, Shape s, Kind k) {
    for (int64_t l = 0; l < c.n_layers; ++l) items.push_back({layer_name(l, what), s, k});
  };
  auto matrices = [&] {
    layers("attention.wq.weight", {D, D}, mat);
    layers("attention.wk.weight", {KV, D}, mat);
    layers("attention.wv.weight", {KV, D}, mat);
    layers("attention.wo.weight", {D, D}, mat);
  };
  auto ffn = [&] {
    layers("feed_forward.w1.weight", {H, D}, mat);
    layers("feed_forward.w2.weight", {D, H}, mat);
    layers("feed_forward.w3.weight", {H, D}, mat);
  };
  if (version == 0) {
    items.push_back({"tok_embeddings.weight", {V, D}, Kind::F32});
    layers("attention_norm.weight", {D}, Kind::F32);
    matrices();
    layers("ffn_norm.weight", {D}, Kind::F32);
    ffn();
    items.push_back({"norm.weight", {D}, Kind::F32});
    items.push_back({"freq_cis_real", {c.seq_len, c.head_size() / 2}, Kind::Skip});
    items.push_back({"freq_cis_imag", {c.seq_len, c.head_size() / 2}, Kind::Skip});
  } else {
    layers("attention_norm.weight", {D}, Kind::F32);
    layers("ffn_norm.weight", {D}, Kind::F32);
    items.push_back({"norm.weight", {D}, Kind::F32});
    items.push_back({"tok_embeddings.weight", {V, D}, mat});
    matrices();
    ffn();
  }
  if (!c.shared_classifier) items.push_back({"output.weight", {V, D}, mat});
  return items;
}

std::string describe(const Llama2cConfig& c) {
  std::ostringstream os;
  os << "dim=" << c.dim << ", hidden_dim=" << c.hidden_dim << ", n_layers=" << c.n_layers
     << ", n_heads=" << c.n_heads << ", n_kv_heads=" << c.n_kv_heads
     << ", vocab_size=" << c.vocab_size << ", seq_len=" << c.seq_len
     << (c.shared_classifier ? " (shared classifier)" : " (separate classifier)");
  return os.str();
}

void validate(const Llama2cConfig& c, const std::string& source) {
  const std::pair<const char*, std::pair<int64_t, int64_t>> fields[] = {
      {"dim", {c.dim, kMaxDim}},         {"hidden_dim", {c.hidden_dim, kMaxHidden}},
      {"n_layers", {c.n_layers, kMaxLayers}}, {"n_heads", {c.n_heads, kMaxHeads}},
      {"n_kv_heads", {c.n_kv_heads, kMaxHeads}}, {"vocab_size", {c.vocab_size, kMaxVocab}},
      {"seq_len", {c.seq_len, kMaxSeq}}};
  const char* hint = "this is not a llama2.c checkpoint, or its header is corrupt";
  for (const auto& [name, vc] : fields) {
    if (vc.first <= 0 || vc.first > vc.second) {
      detail::fail(kFormat, source, 0,
                   std::string("header field ") + name + " = " + std::to_string(vc.first) +
                       " is outside [1, " + std::to_string(vc.second) + "] (" + describe(c) + ")",
                   hint);
    }
  }
  if (c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0) {
    detail::fail(kFormat, source, 0,
                 "dim must be a multiple of n_heads and n_heads of n_kv_heads (" + describe(c) + ")",
                 hint);
  }
}

struct Sizes {
  int64_t total = 0;    // file size
  int64_t q_numel = 0;  // elements of all Q8_0 arrays
};

// Every product and sum checked; false on overflow.
bool compute_size(const std::vector<Item>& items, int64_t header, int64_t group, Sizes* out) {
  int64_t total = header, qn = 0, scales = 0;
  for (const Item& it : items) {
    int64_t n = 1;
    for (int64_t s : it.shape) {
      if (!detail::mul_ok(n, s, &n)) return false;
    }
    int64_t bytes = 0;
    if (it.kind == Kind::Q8) {
      bytes = n;
      if (!detail::add_ok(qn, n, &qn) || !detail::add_ok(scales, n / group, &scales)) return false;
    } else if (!detail::mul_ok(n, 4, &bytes)) {
      return false;
    }
    if (!detail::add_ok(total, bytes, &total)) return false;
  }
  int64_t scale_bytes = 0;
  if (!detail::mul_ok(scales, 4, &scale_bytes) || !detail::add_ok(total, scale_bytes, &total)) return false;
  out->total = total;
  out->q_numel = qn;
  return true;
}

struct Header {
  Llama2cConfig config;
  int version = 0;
  int64_t group_size = 0;
  int64_t data_start = 0;
};

Header read_header(const uint8_t* p, int64_t size, const std::string& source) {
  const char* hint = "the file is truncated or not a llama2.c checkpoint";
  if (size < kLegacyHeader) {
    detail::fail(kFormat, source, 0, "file is " + std::to_string(size) + " bytes, smaller than any header", hint);
  }
  Header h;
  int64_t fields = 0;  // byte offset of the 7 config fields
  if (detail::load_le<uint32_t>(p, 0) == kMagic) {
    if (size < kVersionedHeader) {
      detail::fail(kFormat, source, 0, "file is " + std::to_string(size) + " bytes, smaller than the 256-byte header", hint);
    }
    h.version = detail::load_le<int32_t>(p, 4);
    if (h.version != 1 && h.version != 2) {
      detail::fail(kFormat, source, 4, "unsupported version " + std::to_string(h.version),
                   "nabla reads llama2.c versions 0, 1 (f32) and 2 (Q8_0); re-export with "
                   "export.py --version 1");
    }
    fields = 8;
    h.data_start = kVersionedHeader;
  } else {
    h.data_start = kLegacyHeader;
  }
  int64_t v[7];
  for (int i = 0; i < 7; ++i) v[i] = detail::load_le<int32_t>(p, static_cast<size_t>(fields + 4 * i));
  Llama2cConfig& c = h.config;
  c = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], true};
  if (h.version == 0) {
    c.shared_classifier = v[5] > 0;  // the legacy format's sign flag
    c.vocab_size = v[5] < 0 ? -v[5] : v[5];
  } else {
    const uint8_t flag = p[36];
    if (flag > 1) detail::fail(kFormat, source, 36, "shared_classifier flag is " + std::to_string(flag) + ", not 0 or 1", hint);
    c.shared_classifier = flag == 1;
  }
  if (h.version == 2) {
    h.group_size = detail::load_le<int32_t>(p, 37);
    if (h.group_size <= 0 || h.group_size > kMaxDim) {
      detail::fail(kFormat, source, 37, "Q8_0 group_size " + std::to_string(h.group_size) + " is invalid", hint);
    }
  }
  validate(c, source);
  return h;
}

// w[i] = q[i] * scale[i / group]: llama2.c's Q8_0 dequantization (runq.c).
Tensor dequantize(const uint8_t* q, const uint8_t* scales, const Shape& shape, int64_t group) {
  Tensor t = Tensor::empty(shape, kFloat32);
  float* w = t.data<float>();
  const int64_t n = t.numel();
  const auto* qs = reinterpret_cast<const int8_t*>(q);
#pragma omp parallel for if (n > (1 << 16)) schedule(static)
  for (int64_t g = 0; g < n / group; ++g) {
    const float s = detail::load_le<float>(scales, static_cast<size_t>(g) * 4);
    for (int64_t i = g * group; i < (g + 1) * group; ++i) w[i] = static_cast<float>(qs[i]) * s;
  }
  return t;
}

}  // namespace

int64_t llama2c_file_size(const Llama2cConfig& config, int version) {
  NABLA_CHECK_IO(version == 0 || version == 1, "llama2c_file_size: version must be 0 or 1, got ", version);
  validate(config, "<config>");
  Sizes s;
  NABLA_CHECK_IO(compute_size(plan(config, version), version == 0 ? kLegacyHeader : kVersionedHeader, 1, &s),
                 "llama2.c: file size overflows for ", describe(config));
  return s.total;
}

std::vector<std::pair<std::string, Shape>> llama2c_tensor_shapes(const Llama2cConfig& config) {
  std::vector<std::pair<std::string, Shape>> out;
  for (const Item& it : plan(config, 1)) out.emplace_back(it.name, it.shape);
  return out;
}

Llama2cCheckpoint parse_llama2c(std::shared_ptr<Storage> buffer, const std::string& source) {
  NABLA_CHECK(buffer != nullptr, "parse_llama2c: null buffer");
  const auto* p = static_cast<const uint8_t*>(buffer->data());
  const auto size = static_cast<int64_t>(buffer->nbytes());
  const Header h = read_header(p, size, source);
  const std::vector<Item> items = plan(h.config, h.version);
  const int64_t group = h.version == 2 ? h.group_size : 1;
  for (const Item& it : items) {  // Q8_0 groups must tile every matrix
    if (it.kind == Kind::Q8 && numel_of(it.shape) % group != 0) {
      detail::fail(kFormat, source, 37, it.name + " has " + std::to_string(numel_of(it.shape)) +
                   " elements, not a multiple of group_size " + std::to_string(group),
                   "the file was not written by llama2.c's export.py --version 2");
    }
  }
  Sizes sizes;
  if (!compute_size(items, h.data_start, group, &sizes) || sizes.total != size) {
    const std::string expected = sizes.total > 0 ? std::to_string(sizes.total) : "more than 2^63";
    detail::fail(kFormat, source, std::min(size, sizes.total > 0 ? sizes.total : size),
                 "file is " + std::to_string(size) + " bytes, but a version-" + std::to_string(h.version) +
                     " checkpoint with " + describe(h.config) + " is " + expected + " bytes",
                 size < sizes.total ? "the file is truncated; download or export it again"
                                    : "the header does not describe this file: a different format or "
                                      "version, or a corrupt header");
  }
  Llama2cCheckpoint ck{h.config, h.version, h.group_size, Weights(kFormat, source)};
  int64_t off = h.data_start;
  int64_t scale_off = size - (sizes.q_numel / group) * 4;  // all scales sit at the end (v2)
  for (const Item& it : items) {
    const int64_t n = numel_of(it.shape);
    if (it.kind == Kind::F32) {
      ck.weights.add(it.name, detail::view_bytes(buffer, off, it.shape, kFloat32), off);
      off += n * 4;
    } else if (it.kind == Kind::Skip) {
      off += n * 4;
    } else {
      ck.weights.add(it.name, dequantize(p + off, p + scale_off, it.shape, group), off);
      off += n;
      scale_off += n / group * 4;
    }
  }
  return ck;
}

Llama2cCheckpoint load_llama2c(const std::string& path) {
  return parse_llama2c(detail::map_file(path, kFormat), path);
}

namespace {
// export.py's precompute_freqs_cis in f32: freq_j = 1 / 10000^(2j / head_size), angle t * freq_j.
void write_rope_tables(detail::AtomicWriter& out, const Llama2cConfig& c) {
  const int64_t hs = c.head_size(), half = hs / 2;
  std::vector<float> freqs(static_cast<size_t>(half));
  for (int64_t j = 0; j < half; ++j) {
    freqs[j] = 1.0f / std::pow(10000.0f, static_cast<float>(2 * j) / static_cast<float>(hs));
  }
  for (int part = 0; part < 2; ++part) {
    std::vector<float> row(static_cast<size_t>(half));
    for (int64_t t = 0; t < c.seq_len; ++t) {
      for (int64_t j = 0; j < half; ++j) {
        const float a = static_cast<float>(t) * freqs[j];
        row[j] = part == 0 ? std::cos(a) : std::sin(a);
      }
      out.write(row.data(), row.size() * 4);
    }
  }
}
}  // namespace

void save_llama2c(const std::string& path, const Llama2cConfig& config, const Weights& weights,
                  int version) {
  NABLA_CHECK_IO(version == 0 || version == 1, "llama2.c: can write versions 0 and 1, not ", version,
                 " (", path, ")");
  validate(config, path);
  const std::vector<Item> items = plan(config, version);
  for (const Item& it : items) {  // everything checked before the file is created
    if (it.kind == Kind::Skip) continue;
    const Tensor& t = weights.at(it.name);
    NABLA_CHECK_IO(t.shape() == it.shape && t.is_floating_point(), "llama2.c: ", it.name, " is ",
                   t.describe(), ", the config (", describe(config), ") needs ", it.shape,
                   " floating point (", path, ")");
  }
  detail::AtomicWriter out(path, kFormat);
  if (version == 0) {
    const int32_t v = static_cast<int32_t>(config.shared_classifier ? config.vocab_size : -config.vocab_size);
    const int32_t header[7] = {static_cast<int32_t>(config.dim), static_cast<int32_t>(config.hidden_dim),
                               static_cast<int32_t>(config.n_layers), static_cast<int32_t>(config.n_heads),
                               static_cast<int32_t>(config.n_kv_heads), v, static_cast<int32_t>(config.seq_len)};
    out.write(header, sizeof header);
  } else {
    const int32_t header[9] = {static_cast<int32_t>(kMagic), 1,
                               static_cast<int32_t>(config.dim), static_cast<int32_t>(config.hidden_dim),
                               static_cast<int32_t>(config.n_layers), static_cast<int32_t>(config.n_heads),
                               static_cast<int32_t>(config.n_kv_heads), static_cast<int32_t>(config.vocab_size),
                               static_cast<int32_t>(config.seq_len)};
    out.write(header, sizeof header);
    const uint8_t flag = config.shared_classifier ? 1 : 0;
    out.write(&flag, 1);
    out.write_zeros(static_cast<size_t>(kVersionedHeader - out.bytes_written()));
  }
  bool tables_written = false;
  for (const Item& it : items) {
    if (it.kind == Kind::Skip) {
      if (!tables_written) write_rope_tables(out, config);
      tables_written = true;
    } else {
      out.write_tensor(weights.at(it.name), kFloat32);
    }
  }
  out.commit();
}

}  // namespace nabla::io
