// torch.save zip checkpoints: a zip reader for stored entries (zip64 included) and a
// restricted pickle machine that understands exactly what torch.save emits for a dict of
// tensors (protocol 2; the protocol 4 framing opcodes too). Unknown opcodes and globals are
// errors, so a hostile file can make loading fail but never run code.
#include "nabla/io/torch_pth.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <vector>

#include "io/io_util.h"
#include "nabla/kernels/cpu/copy.h"
#include "nabla/kernels/cpu/f16.h"

namespace nabla::io {

namespace {

constexpr const char* kFormat = "torch.save";
constexpr int64_t kMaxMemo = int64_t{1} << 24;  // memo slots; far above any real checkpoint
// Nesting depth of containers: torch.save's dict of tensors needs 4; a bound keeps the
// recursive destruction of a hostile, deeply nested pickle off the end of the C++ stack.
constexpr int kMaxDepth = 64;

struct ZipEntry {
  int64_t data = 0;  // offset of the entry's bytes in the file
  int64_t size = 0;
};

class Zip {
 public:
  Zip(const uint8_t* p, int64_t n, const std::string& source) : p_(p), n_(n), source_(source) {
    read_directory();
  }
  const std::map<std::string, ZipEntry>& entries() const { return entries_; }
  [[noreturn]] void fail(int64_t at, const std::string& what, const std::string& hint = "") const {
    detail::fail(kFormat, source_, at, what, hint);
  }

 private:
  template <typename T>
  T get(int64_t at) const {
    if (at < 0 || at > n_ - static_cast<int64_t>(sizeof(T))) {
      fail(at, "zip structure runs past the end of the file");
    }
    return detail::load_le<T>(p_, static_cast<size_t>(at));
  }

  int64_t find_eocd() const {
    constexpr int64_t kEocd = 22, kMaxComment = 65535;
    for (int64_t at = n_ - kEocd; at >= 0 && at >= n_ - kEocd - kMaxComment; --at) {
      if (get<uint32_t>(at) == 0x06054b50)
        return at;
    }
    fail(
        -1, "no zip end-of-central-directory record (not a torch.save zip file)",
        "files from torch.save(..., _use_new_zipfile_serialization=False) (the legacy format) "
        "are not supported; re-save with a PyTorch >= 1.6 default");
  }

  void read_directory() {
    const int64_t eocd = find_eocd();
    int64_t count = get<uint16_t>(eocd + 10);
    int64_t cd_size = get<uint32_t>(eocd + 12);
    int64_t cd_at = get<uint32_t>(eocd + 16);
    if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_at == 0xFFFFFFFF) {
      const int64_t loc = eocd - 20;
      if (get<uint32_t>(loc) != 0x07064b50)
        fail(loc, "zip64 locator missing");
      const auto z64 = static_cast<int64_t>(std::min<uint64_t>(get<uint64_t>(loc + 8), INT64_MAX));
      if (get<uint32_t>(z64) != 0x06064b50)
        fail(z64, "zip64 end-of-central-directory missing");
      count = static_cast<int64_t>(std::min<uint64_t>(get<uint64_t>(z64 + 32), INT64_MAX));
      cd_size = static_cast<int64_t>(std::min<uint64_t>(get<uint64_t>(z64 + 40), INT64_MAX));
      cd_at = static_cast<int64_t>(std::min<uint64_t>(get<uint64_t>(z64 + 48), INT64_MAX));
    }
    if (cd_at > n_ || cd_size > n_ - cd_at || count > cd_size / 46) {
      fail(
          eocd,
          "central directory of " + std::to_string(count) + " entries at " + std::to_string(cd_at) +
              " (+" + std::to_string(cd_size) + " bytes) lies outside the " + std::to_string(n_) +
              "-byte file",
          "the file is truncated or not a zip archive");
    }
    int64_t at = cd_at;
    for (int64_t i = 0; i < count; ++i) at = read_entry(at, cd_at + cd_size);
  }

  // One central directory record at `at`; returns the next record's offset.
  int64_t read_entry(int64_t at, int64_t cd_end) {
    if (get<uint32_t>(at) != 0x02014b50)
      fail(at, "bad central directory record signature");
    const int method = get<uint16_t>(at + 10);
    int64_t csize = get<uint32_t>(at + 20), usize = get<uint32_t>(at + 24);
    const int64_t name_len = get<uint16_t>(at + 28), extra_len = get<uint16_t>(at + 30);
    const int64_t comment_len = get<uint16_t>(at + 32);
    int64_t local = get<uint32_t>(at + 42);
    const int64_t next = at + 46 + name_len + extra_len + comment_len;
    if (next > cd_end)
      fail(at, "central directory record runs past the directory");
    const std::string name(
        reinterpret_cast<const char*>(p_ + at + 46), static_cast<size_t>(name_len));
    // zip64 extra field: the 8-byte values of the fields that read 0xFFFFFFFF, in order.
    for (int64_t e = at + 46 + name_len; e + 4 <= at + 46 + name_len + extra_len;) {
      const int id = get<uint16_t>(e), len = get<uint16_t>(e + 2);
      if (id == 1) {
        int64_t f = e + 4;
        auto take = [&](int64_t& v) {
          if (v != 0xFFFFFFFF)
            return;
          if (f + 8 > e + 4 + len)
            fail(e, "zip64 extra field of " + name + " too short");
          v = static_cast<int64_t>(std::min<uint64_t>(get<uint64_t>(f), INT64_MAX));
          f += 8;
        };
        take(usize);
        take(csize);
        take(local);
      }
      e += 4 + len;
    }
    if (method != 0 || csize != usize) {
      fail(
          at, "zip entry " + name + " is compressed (method " + std::to_string(method) + ")",
          "torch.save stores entries uncompressed; re-save the checkpoint with torch.save");
    }
    if (get<uint32_t>(local) != 0x04034b50)
      fail(local, "bad local header of zip entry " + name);
    const int64_t data = local + 30 + get<uint16_t>(local + 26) + get<uint16_t>(local + 28);
    if (data > n_ || usize > n_ - data) {
      fail(
          data,
          "zip entry " + name + " (" + std::to_string(usize) + " bytes) runs past the end of the " +
              std::to_string(n_) + "-byte file",
          "the file is truncated; download it again");
    }
    entries_[name] = ZipEntry{data, usize};
    return next;
  }

  const uint8_t* p_;
  int64_t n_;
  const std::string& source_;
  std::map<std::string, ZipEntry> entries_;
};

// A pickle value: only the kinds torch.save's dict-of-tensors pickle produces.
struct Value;
using Ref = std::shared_ptr<Value>;
struct Value {
  enum class Kind { None, Bool, Int, Float, Str, Tuple, List, Dict, Global, Storage, Tensor, Mark };
  Kind kind = Kind::None;
  int64_t i = 0;
  double f = 0;
  std::string s;                          // Str; Global "module.name"; Storage key
  std::vector<Ref> items;                 // Tuple, List
  std::vector<std::pair<Ref, Ref>> dict;  // Dict, in insertion order
  DType dtype = kFloat32;                 // Storage element type (f16 is widened)
  bool half = false;                      // Storage holds f16 on disk
  Tensor tensor;                          // Storage (1-D, all elements) or Tensor
  int depth = 0;                          // containers nested inside this value
};

Ref make(Value::Kind k) {
  auto v = std::make_shared<Value>();
  v->kind = k;
  return v;
}

class Unpickler {
 public:
  Unpickler(const Zip& zip, std::shared_ptr<Storage> file, std::string prefix, ZipEntry pkl)
      : zip_(zip), file_(std::move(file)), prefix_(std::move(prefix)), pkl_(pkl) {
    p_ = static_cast<const uint8_t*>(file_->data()) + pkl.data;
  }
  Ref run();

 private:
  [[noreturn]] void fail(const std::string& what) const {
    zip_.fail(
        pkl_.data + pos_, "pickle: " + what,
        "only dicts of tensors as torch.save writes them are supported");
  }
  const uint8_t* take(int64_t n) {
    if (n < 0 || n > pkl_.size - pos_)
      fail("truncated (needs " + std::to_string(n) + " more bytes)");
    const uint8_t* at = p_ + pos_;
    pos_ += n;
    return at;
  }
  template <typename T>
  T read() {
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));
    return v;
  }
  Ref pop() {
    if (stack_.empty())
      fail("stack underflow");
    Ref v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Ref& top() {
    if (stack_.empty())
      fail("stack underflow");
    return stack_.back();
  }
  std::vector<Ref> pop_mark() {
    for (size_t k = stack_.size(); k-- > 0;) {
      if (stack_[k]->kind == Value::Kind::Mark) {
        std::vector<Ref> out(stack_.begin() + static_cast<int64_t>(k) + 1, stack_.end());
        stack_.resize(k);
        return out;
      }
    }
    fail("no MARK on the stack");
  }
  void nest(Value& outer, const Ref& inner) {
    outer.depth = std::max(outer.depth, inner->depth + 1);
    if (outer.depth > kMaxDepth)
      fail("containers nested deeper than " + std::to_string(kMaxDepth));
  }
  Ref tuple(std::vector<Ref> items) {
    Ref t = make(Value::Kind::Tuple);
    for (const auto& v : items) nest(*t, v);
    t->items = std::move(items);
    return t;
  }
  void memo_put(int64_t key) {
    if (key < 0 || key >= kMaxMemo)
      fail("memo index " + std::to_string(key) + " out of range");
    memo_[key] = top();
  }
  Ref memo_get(int64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end())
      fail("memo index " + std::to_string(key) + " was never stored");
    // A second reference to a mutable container is how a pickle builds cycles (which
    // shared_ptr would leak); torch.save's tensor dicts never need one.
    if (it->second->kind == Value::Kind::Dict || it->second->kind == Value::Kind::List) {
      fail("memo reference to a dict or list is not supported");
    }
    return it->second;
  }
  std::string line() {
    const int64_t start = pos_;
    while (true) {
      if (*take(1) == '\n')
        break;
    }
    return std::string(
        reinterpret_cast<const char*>(p_ + start), static_cast<size_t>(pos_ - start - 1));
  }
  Ref str(int64_t n) {
    Ref v = make(Value::Kind::Str);
    const uint8_t* b = take(n);
    v->s.assign(reinterpret_cast<const char*>(b), static_cast<size_t>(n));
    return v;
  }
  Ref integer(int64_t x) {
    Ref v = make(Value::Kind::Int);
    v->i = x;
    return v;
  }
  Ref global(const std::string& module, const std::string& name);
  Ref reduce(const Ref& fn, const Ref& args);
  Ref persistent_load(const Ref& pid);
  Ref rebuild_tensor(const std::vector<Ref>& a);
  bool step();

  const Zip& zip_;
  std::shared_ptr<Storage> file_;
  std::string prefix_;
  ZipEntry pkl_;
  const uint8_t* p_ = nullptr;
  int64_t pos_ = 0;
  std::vector<Ref> stack_;
  std::map<int64_t, Ref> memo_;
  std::map<std::string, Ref> storages_;  // by key: tensors may share a storage
};

Ref Unpickler::global(const std::string& module, const std::string& name) {
  static const std::map<std::string, std::pair<DType, bool>> kStorages = {
      {"FloatStorage", {kFloat32, false}},     {"HalfStorage", {kFloat32, true}},
      {"BFloat16Storage", {kBFloat16, false}}, {"DoubleStorage", {kFloat64, false}},
      {"LongStorage", {kInt64, false}},        {"IntStorage", {kInt32, false}},
      {"ByteStorage", {kUInt8, false}},        {"BoolStorage", {kBool, false}}};
  const std::string full = module + "." + name;
  const bool known =
      full == "torch._utils._rebuild_tensor_v2" || full == "torch._utils._rebuild_parameter" ||
      full == "collections.OrderedDict" || (module == "torch" && kStorages.count(name) != 0);
  if (!known)
    fail("global " + full + " is not allowed");
  Ref g = make(Value::Kind::Global);
  g->s = full;
  if (module == "torch" && kStorages.count(name) != 0) {
    g->dtype = kStorages.at(name).first;
    g->half = kStorages.at(name).second;
  }
  return g;
}

Ref Unpickler::persistent_load(const Ref& pid) {
  // ('storage', torch.<T>Storage, key, location, numel)
  if (pid->kind != Value::Kind::Tuple || pid->items.size() != 5 ||
      pid->items[0]->kind != Value::Kind::Str || pid->items[0]->s != "storage" ||
      pid->items[1]->kind != Value::Kind::Global || !pid->items[1]->s.ends_with("Storage") ||
      pid->items[2]->kind != Value::Kind::Str || pid->items[4]->kind != Value::Kind::Int) {
    fail("persistent id is not ('storage', type, key, location, numel)");
  }
  const std::string key = pid->items[2]->s;
  if (auto it = storages_.find(key); it != storages_.end())
    return it->second;
  const Ref& type = pid->items[1];
  const int64_t numel = pid->items[4]->i;
  const std::string entry = prefix_ + "data/" + key;
  auto it = zip_.entries().find(entry);
  if (it == zip_.entries().end())
    fail("storage " + entry + " is not in the archive");
  const int64_t elem = type->half ? 2 : static_cast<int64_t>(element_size(type->dtype));
  if (numel < 0 || numel > it->second.size / elem) {
    fail(
        "storage " + entry + " claims " + std::to_string(numel) + " elements but holds " +
        std::to_string(it->second.size) + " bytes");
  }
  Ref s = make(Value::Kind::Storage);
  s->s = key;
  if (type->half) {
    s->tensor = Tensor::empty({numel}, kFloat32);
    std::vector<uint16_t> tmp(static_cast<size_t>(numel));
    std::memcpy(
        tmp.data(), static_cast<const uint8_t*>(file_->data()) + it->second.data, tmp.size() * 2);
    kernels::cpu::f16_to_f32(s->tensor.data<float>(), tmp.data(), numel);
  } else {
    if (type->dtype == kBool) {
      const auto* b = static_cast<const uint8_t*>(file_->data()) + it->second.data;
      for (int64_t k = 0; k < numel; ++k) {
        if (b[k] > 1)
          fail("storage " + entry + " holds a bool byte that is neither 0 nor 1");
      }
    }
    s->tensor = detail::view_bytes(file_, it->second.data, {numel}, type->dtype);
  }
  storages_[key] = s;
  return s;
}

Ref Unpickler::rebuild_tensor(const std::vector<Ref>& a) {
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, meta])
  if (a.size() < 4 || a[0]->kind != Value::Kind::Storage || a[1]->kind != Value::Kind::Int ||
      a[2]->kind != Value::Kind::Tuple || a[3]->kind != Value::Kind::Tuple ||
      a[2]->items.size() != a[3]->items.size() || a[2]->items.size() > 16) {
    fail("_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, ...)");
  }
  const Tensor& st = a[0]->tensor;
  const int64_t offset = a[1]->i;
  if (offset < 0 || offset > st.numel())
    fail("storage offset " + std::to_string(offset) + " is invalid");
  Shape sizes, strides;
  int64_t last = offset, numel = 1;
  for (size_t d = 0; d < a[2]->items.size(); ++d) {
    const Ref& sz = a[2]->items[d];
    const Ref& sd = a[3]->items[d];
    if (sz->kind != Value::Kind::Int || sd->kind != Value::Kind::Int || sz->i < 0 || sd->i < 0 ||
        sz->i > st.numel() + 1 || sd->i > st.numel() + 1) {
      fail("tensor size/stride entry " + std::to_string(d) + " is invalid");
    }
    sizes.push_back(sz->i);
    strides.push_back(sd->i);
    numel *= sz->i;
    if (numel > st.numel() + 1)
      numel = st.numel() + 1;  // keeps the product bounded
    int64_t span = 0;
    if (sz->i > 0 &&
        (!detail::mul_ok(sz->i - 1, sd->i, &span) || !detail::add_ok(last, span, &last))) {
      fail("tensor extent overflows");
    }
  }
  if (numel > 0 && (offset < 0 || last >= st.numel())) {
    fail(
        "tensor of size " + Shape(sizes).str() + " at offset " + std::to_string(offset) +
        " reaches past its storage of " + std::to_string(st.numel()) + " elements");
  }
  Ref t = make(Value::Kind::Tensor);
  t->tensor = Tensor::make_view(st.storage(), sizes, strides, st.offset() + offset, st.dtype());
  if (!t->tensor.is_contiguous()) {  // checkpoints hold transposed views now and then
    Tensor dense = Tensor::empty(sizes, st.dtype());
    const auto* base = static_cast<const uint8_t*>(st.raw_data()) +
                       static_cast<size_t>(offset) * st.element_size();
    kernels::cpu::copy_strided(
        dense.raw_data(), base, st.element_size(), sizes.data(), strides.data(),
        static_cast<int64_t>(sizes.size()));
    t->tensor = dense;
  }
  return t;
}

Ref Unpickler::reduce(const Ref& fn, const Ref& args) {
  if (fn->kind != Value::Kind::Global || args->kind != Value::Kind::Tuple) {
    fail("REDUCE needs a global and a tuple");
  }
  if (fn->s == "collections.OrderedDict" && args->items.empty())
    return make(Value::Kind::Dict);
  if (fn->s == "torch._utils._rebuild_tensor_v2")
    return rebuild_tensor(args->items);
  if (fn->s == "torch._utils._rebuild_parameter" && !args->items.empty() &&
      args->items[0]->kind == Value::Kind::Tensor) {
    return args->items[0];
  }
  fail("cannot call " + fn->s + " with these arguments");
}

// Executes one opcode; false after STOP.
bool Unpickler::step() {
  using K = Value::Kind;
  const uint8_t op = *take(1);
  switch (op) {
    case 0x80:
      take(1);
      return true;  // PROTO
    case 0x95:
      take(8);
      return true;  // FRAME
    case '}':
      stack_.push_back(make(K::Dict));
      return true;
    case ']':
      stack_.push_back(make(K::List));
      return true;
    case ')':
      stack_.push_back(tuple({}));
      return true;
    case '(':
      stack_.push_back(make(K::Mark));
      return true;
    case 'N':
      stack_.push_back(make(K::None));
      return true;
    case 0x88:
    case 0x89: {  // NEWTRUE, NEWFALSE
      Ref b = make(K::Bool);
      b->i = op == 0x88;
      stack_.push_back(b);
      return true;
    }
    case 'q':
      memo_put(read<uint8_t>());
      return true;  // BINPUT
    case 'r':
      memo_put(read<uint32_t>());
      return true;  // LONG_BINPUT
    case 0x94:
      memo_put(static_cast<int64_t>(memo_.size()));
      return true;  // MEMOIZE
    case 'h':
      stack_.push_back(memo_get(read<uint8_t>()));
      return true;  // BINGET
    case 'j':
      stack_.push_back(memo_get(read<uint32_t>()));
      return true;  // LONG_BINGET
    case 'X':
      stack_.push_back(str(read<uint32_t>()));
      return true;  // BINUNICODE
    case 0x8c:
      stack_.push_back(str(read<uint8_t>()));
      return true;  // SHORT_BINUNICODE
    case 0x8d: {    // BINUNICODE8
      const uint64_t n = read<uint64_t>();
      stack_.push_back(str(n > static_cast<uint64_t>(pkl_.size) ? -1 : static_cast<int64_t>(n)));
      return true;
    }
    case 'J':
      stack_.push_back(integer(read<int32_t>()));
      return true;  // BININT
    case 'K':
      stack_.push_back(integer(read<uint8_t>()));
      return true;  // BININT1
    case 'M':
      stack_.push_back(integer(read<uint16_t>()));
      return true;  // BININT2
    case 0x8a: {    // LONG1
      const int n = read<uint8_t>();
      if (n > 8)
        fail("LONG1 of " + std::to_string(n) + " bytes does not fit 64 bits");
      const uint8_t* b = take(n);
      uint64_t u = 0;
      for (int k = 0; k < n; ++k) u |= static_cast<uint64_t>(b[k]) << (8 * k);
      if (n > 0 && n < 8 && (b[n - 1] & 0x80))
        u |= ~uint64_t{0} << (8 * n);  // sign-extend
      stack_.push_back(integer(static_cast<int64_t>(u)));
      return true;
    }
    case 'G': {  // BINFLOAT (big-endian)
      const uint8_t* b = take(8);
      uint64_t u = 0;
      for (int k = 0; k < 8; ++k) u = (u << 8) | b[k];
      Ref f = make(K::Float);
      std::memcpy(&f->f, &u, 8);
      stack_.push_back(f);
      return true;
    }
    case 't':
      stack_.push_back(tuple(pop_mark()));
      return true;
    case 0x85:
    case 0x86:
    case 0x87: {  // TUPLE1..3
      std::vector<Ref> items(static_cast<size_t>(op - 0x84));
      for (size_t k = items.size(); k-- > 0;) items[k] = pop();
      stack_.push_back(tuple(std::move(items)));
      return true;
    }
    case 'c': {  // GLOBAL
      const std::string module = line();
      stack_.push_back(global(module, line()));
      return true;
    }
    case 0x93: {  // STACK_GLOBAL
      Ref name = pop(), module = pop();
      if (name->kind != K::Str || module->kind != K::Str)
        fail("STACK_GLOBAL needs two strings");
      stack_.push_back(global(module->s, name->s));
      return true;
    }
    case 'R': {
      Ref args = pop(), fn = pop();
      stack_.push_back(reduce(fn, args));
      return true;
    }
    case 'Q':
      stack_.push_back(persistent_load(pop()));
      return true;  // BINPERSID
    case 's':
    case 'u': {  // SETITEM(S)
      std::vector<Ref> kv;
      if (op == 's') {
        Ref v = pop(), k = pop();
        kv = {k, v};
      } else {
        kv = pop_mark();
      }
      if (top()->kind != K::Dict || kv.size() % 2 != 0)
        fail("SETITEM(S) needs a dict");
      for (size_t k = 0; k < kv.size(); k += 2) {
        nest(*top(), kv[k]);
        nest(*top(), kv[k + 1]);
        top()->dict.emplace_back(kv[k], kv[k + 1]);
      }
      return true;
    }
    case 'a':
    case 'e': {  // APPEND(S)
      std::vector<Ref> items = op == 'a' ? std::vector<Ref>{pop()} : pop_mark();
      if (top()->kind != K::List)
        fail("APPEND(S) needs a list");
      for (auto& v : items) {
        nest(*top(), v);
        top()->items.push_back(v);
      }
      return true;
    }
    case '.':
      return false;  // STOP
    default: {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", op);
      pos_ -= 1;
      fail(std::string("opcode ") + hex + " is not supported");
    }
  }
}

Ref Unpickler::run() {
  while (step()) {
  }
  if (stack_.size() != 1)
    fail("STOP with " + std::to_string(stack_.size()) + " values on the stack");
  return stack_.back();
}

}  // namespace

Weights parse_torch_pth(std::shared_ptr<Storage> buffer, const std::string& source) {
  const auto* bytes = static_cast<const uint8_t*>(buffer->data());
  const auto n = static_cast<int64_t>(buffer->nbytes());
  const Zip zip(bytes, n, source);
  std::string prefix;
  const ZipEntry* pkl = nullptr;
  for (const auto& [name, e] : zip.entries()) {
    const std::string tail = "data.pkl";
    if (name.size() >= tail.size() &&
        name.compare(name.size() - tail.size(), tail.size(), tail) == 0 &&
        (name.size() == tail.size() || name[name.size() - tail.size() - 1] == '/')) {
      if (pkl != nullptr)
        zip.fail(-1, "the archive holds more than one data.pkl");
      prefix = name.substr(0, name.size() - tail.size());
      pkl = &e;
    }
  }
  if (pkl == nullptr)
    zip.fail(-1, "no data.pkl in the archive (not a torch.save file)");
  Unpickler unpickler(zip, buffer, prefix, *pkl);
  const Ref root = unpickler.run();
  if (root->kind != Value::Kind::Dict)
    zip.fail(pkl->data, "the pickled object is not a dict");
  Weights out(kFormat, source);
  for (const auto& [k, v] : root->dict) {
    if (k->kind != Value::Kind::Str || v->kind != Value::Kind::Tensor) {
      zip.fail(
          pkl->data, "dict entry " + (k->kind == Value::Kind::Str ? k->s : std::string("?")) +
                         " is not a string -> tensor pair");
    }
    out.add(k->s, v->tensor);
  }
  return out;
}

Weights load_torch_pth(const std::string& path) {
  return parse_torch_pth(detail::map_file(path, kFormat), path);
}

}  // namespace nabla::io
