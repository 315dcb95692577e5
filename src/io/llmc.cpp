// llm.c GPT-2 checkpoint reader/writer. A table of the 16 arrays (llm.c order, per-layer slice
// shape, HF name, whether HF stores it transposed) drives both directions.
#include "nabla/io/llmc.h"

#include <sstream>
#include <vector>

#include "io/io_util.h"
#include "nabla/kernels/cpu/copy.h"

namespace nabla::io {

namespace {

constexpr const char* kFormat = "llm.c";
constexpr int32_t kMagic = 20240326;
constexpr int64_t kHeaderBytes = 256 * 4;
// Generous caps (GPT-2 XL: C 1600, 48 layers, 25 heads, Vp 50304, maxT 1024).
constexpr int64_t kMaxC = 1 << 16, kMaxLayers = 1 << 12, kMaxHeads = 1 << 12;
constexpr int64_t kMaxVocab = 1 << 24, kMaxSeq = 1 << 24;

// One of the 16 arrays: a per-layer slice is rows x cols (cols == 0: a vector of rows).
struct Param {
  const char* name;  // HF name (after "h.N." for per-layer arrays)
  bool per_layer;
  int64_t rows, cols;
  bool transpose;  // HF stores [cols, rows]
};

std::vector<Param> params(const LlmcConfig& c) {
  const int64_t C = c.channels;
  return {{"wte.weight", false, c.padded_vocab_size, C, false},
          {"wpe.weight", false, c.max_seq_len, C, false},
          {"ln_1.weight", true, C, 0, false},
          {"ln_1.bias", true, C, 0, false},
          {"attn.c_attn.weight", true, 3 * C, C, true},
          {"attn.c_attn.bias", true, 3 * C, 0, false},
          {"attn.c_proj.weight", true, C, C, true},
          {"attn.c_proj.bias", true, C, 0, false},
          {"ln_2.weight", true, C, 0, false},
          {"ln_2.bias", true, C, 0, false},
          {"mlp.c_fc.weight", true, 4 * C, C, true},
          {"mlp.c_fc.bias", true, 4 * C, 0, false},
          {"mlp.c_proj.weight", true, C, 4 * C, true},
          {"mlp.c_proj.bias", true, C, 0, false},
          {"ln_f.weight", false, C, 0, false},
          {"ln_f.bias", false, C, 0, false}};
}

int64_t slice_numel(const Param& p) { return p.cols == 0 ? p.rows : p.rows * p.cols; }

std::string hf_name(const Param& p, int64_t layer) {
  return p.per_layer ? "h." + std::to_string(layer) + "." + p.name : std::string(p.name);
}

// The HF shape of one slice (wte without its padding rows).
Shape hf_shape(const Param& p, const LlmcConfig& c) {
  if (p.cols == 0) return {p.rows};
  if (p.transpose) return {p.cols, p.rows};
  if (std::string(p.name) == "wte.weight") return {c.vocab_size, p.cols};
  return {p.rows, p.cols};
}

std::string describe(const LlmcConfig& c) {
  std::ostringstream os;
  os << "max_seq_len=" << c.max_seq_len << ", vocab_size=" << c.vocab_size
     << ", num_layers=" << c.num_layers << ", num_heads=" << c.num_heads
     << ", channels=" << c.channels << ", padded_vocab_size=" << c.padded_vocab_size << ", "
     << c.dtype;
  return os.str();
}

void validate(const LlmcConfig& c, const std::string& source) {
  const char* hint = "this is not an llm.c GPT-2 checkpoint, or its header is corrupt";
  const std::pair<const char*, std::pair<int64_t, int64_t>> fields[] = {
      {"max_seq_len", {c.max_seq_len, kMaxSeq}}, {"vocab_size", {c.vocab_size, kMaxVocab}},
      {"num_layers", {c.num_layers, kMaxLayers}}, {"num_heads", {c.num_heads, kMaxHeads}},
      {"channels", {c.channels, kMaxC}}, {"padded_vocab_size", {c.padded_vocab_size, kMaxVocab}}};
  for (const auto& [name, vc] : fields) {
    if (vc.first <= 0 || vc.first > vc.second) {
      detail::fail(kFormat, source, 0,
                   std::string("header field ") + name + " = " + std::to_string(vc.first) +
                       " is outside [1, " + std::to_string(vc.second) + "] (" + describe(c) + ")",
                   hint);
    }
  }
  if (c.channels % c.num_heads != 0 || c.padded_vocab_size < c.vocab_size) {
    detail::fail(kFormat, source, 0,
                 "channels must be a multiple of num_heads and padded_vocab_size >= vocab_size (" +
                     describe(c) + ")",
                 hint);
  }
  if (c.dtype != kFloat32 && c.dtype != kBFloat16) {
    detail::fail(kFormat, source, 4, "dtype must be float32 or bfloat16", hint);
  }
}

bool total_size(const LlmcConfig& c, int64_t* out) {
  int64_t total = 0;
  for (const Param& p : params(c)) {
    int64_t n = 0;
    if (!detail::mul_ok(p.rows, p.cols == 0 ? 1 : p.cols, &n)) return false;
    if (p.per_layer && !detail::mul_ok(n, c.num_layers, &n)) return false;
    if (!detail::add_ok(total, n, &total)) return false;
  }
  return detail::mul_ok(total, static_cast<int64_t>(element_size(c.dtype)), &total) &&
         detail::add_ok(total, kHeaderBytes, out);
}

LlmcConfig read_header(const uint8_t* p, int64_t size, const std::string& source) {
  if (size < kHeaderBytes) {
    detail::fail(kFormat, source, 0, "file is " + std::to_string(size) + " bytes, smaller than the 1024-byte header",
                 "the file is truncated or not an llm.c checkpoint");
  }
  const int32_t magic = detail::load_le<int32_t>(p, 0);
  if (magic != kMagic) {
    detail::fail(kFormat, source, 0, "bad magic " + std::to_string(magic) + ", expected " + std::to_string(kMagic),
                 "this is not an llm.c GPT-2 checkpoint (gpt2_124M.bin written by train_gpt2.py)");
  }
  const int32_t version = detail::load_le<int32_t>(p, 4);
  if (version != 3 && version != 5) {
    detail::fail(kFormat, source, 4, "unsupported version " + std::to_string(version),
                 "nabla reads version 3 (float32) and 5 (bfloat16); re-export with llm.c's train_gpt2.py");
  }
  auto field = [&](int i) { return static_cast<int64_t>(detail::load_le<int32_t>(p, static_cast<size_t>(4 * i))); };
  LlmcConfig c{field(2), field(3), field(4), field(5), field(6), field(7), version == 3 ? kFloat32 : kBFloat16};
  validate(c, source);
  return c;
}

// [rows, cols] at offset -> new [cols, rows] tensor.
Tensor transposed_copy(const uint8_t* src, int64_t rows, int64_t cols, DType dtype) {
  Tensor t = Tensor::empty({cols, rows}, dtype);
  const int64_t sizes[2] = {cols, rows};
  const int64_t strides[2] = {1, cols};
  kernels::cpu::copy_strided(t.raw_data(), src, element_size(dtype), sizes, strides, 2);
  return t;
}

}  // namespace

int64_t llmc_file_size(const LlmcConfig& config) {
  validate(config, "<config>");
  int64_t total = 0;
  NABLA_CHECK_IO(total_size(config, &total), "llm.c: file size overflows for ", describe(config));
  return total;
}

LlmcCheckpoint parse_llmc(std::shared_ptr<Storage> buffer, const std::string& source) {
  NABLA_CHECK(buffer != nullptr, "parse_llmc: null buffer");
  const auto* p = static_cast<const uint8_t*>(buffer->data());
  const auto size = static_cast<int64_t>(buffer->nbytes());
  const LlmcConfig c = read_header(p, size, source);
  int64_t expected = 0;
  if (!total_size(c, &expected) || expected != size) {
    detail::fail(kFormat, source, std::min(size, expected),
                 "file is " + std::to_string(size) + " bytes, but a checkpoint with " + describe(c) + " is " +
                     std::to_string(expected) + " bytes",
                 size < expected ? "the file is truncated; download or export it again"
                                 : "the header does not describe this file (corrupt header or a different format)");
  }
  const auto es = static_cast<int64_t>(element_size(c.dtype));
  const std::vector<Param> ps = params(c);
  std::vector<int64_t> starts;  // byte offset of each array
  int64_t off = kHeaderBytes;
  for (const Param& q : ps) {
    starts.push_back(off);
    off += slice_numel(q) * (q.per_layer ? c.num_layers : 1) * es;
  }
  LlmcCheckpoint ck{c, Weights(kFormat, source)};
  auto add = [&](size_t i, int64_t layer) {
    const Param& q = ps[i];
    const int64_t at = starts[i] + (q.per_layer ? layer * slice_numel(q) * es : 0);
    Tensor t = q.transpose ? transposed_copy(p + at, q.rows, q.cols, c.dtype)
                           : detail::view_bytes(buffer, at, hf_shape(q, c), c.dtype);
    ck.weights.add(hf_name(q, layer), std::move(t), at);
  };
  // Hugging Face order: embeddings, then block by block, then the final norm.
  add(0, 0);
  add(1, 0);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    for (size_t i = 2; i < 14; ++i) add(i, l);
  }
  add(14, 0);
  add(15, 0);
  return ck;
}

LlmcCheckpoint load_llmc(const std::string& path) {
  return parse_llmc(detail::map_file(path, kFormat), path);
}

void save_llmc(const std::string& path, const LlmcConfig& config, const Weights& weights) {
  validate(config, path);
  const std::vector<Param> ps = params(config);
  for (const Param& q : ps) {  // everything checked before the file is created
    for (int64_t l = 0; l < (q.per_layer ? config.num_layers : 1); ++l) {
      const Tensor& t = weights.at(hf_name(q, l));
      NABLA_CHECK_IO(t.shape() == hf_shape(q, config) && t.is_floating_point(), "llm.c: ", hf_name(q, l),
                     " is ", t.describe(), ", the config (", describe(config), ") needs ",
                     hf_shape(q, config), " floating point (", path, ")");
    }
  }
  detail::AtomicWriter out(path, kFormat);
  int32_t header[256] = {};
  header[0] = kMagic;
  header[1] = config.dtype == kFloat32 ? 3 : 5;
  const int64_t fields[6] = {config.max_seq_len, config.vocab_size, config.num_layers,
                             config.num_heads, config.channels, config.padded_vocab_size};
  for (int i = 0; i < 6; ++i) header[2 + i] = static_cast<int32_t>(fields[i]);
  out.write(header, sizeof header);
  const size_t es = element_size(config.dtype);
  for (const Param& q : ps) {
    for (int64_t l = 0; l < (q.per_layer ? config.num_layers : 1); ++l) {
      const Tensor& t = weights.at(hf_name(q, l));
      // HF [in, out] -> llm.c [out, in]: a transposed view, made contiguous by write_tensor.
      const Tensor src = q.transpose ? Tensor::make_view(t.storage(), {t.size(1), t.size(0)},
                                                         {t.stride(1), t.stride(0)}, t.offset(), t.dtype())
                                     : t;
      out.write_tensor(src, config.dtype);
    }
    if (std::string(q.name) == "wte.weight") {
      out.write_zeros(static_cast<size_t>((config.padded_vocab_size - config.vocab_size) * config.channels) * es);
    }
  }
  out.commit();
}

}  // namespace nabla::io
