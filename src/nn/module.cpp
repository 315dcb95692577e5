// Module bookkeeping: registration, recursive traversal with dotted names, train/eval,
// gradient control, state dicts and printing.
#include "nabla/nn/module.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cxxabi.h>
#include <map>
#include <set>
#include <sstream>
#include <typeinfo>

#include "nabla/autograd/grad_mode.h"

namespace nabla::nn {

namespace {

std::string join(const std::string& prefix, const std::string& name) {
  if (prefix.empty()) return name;
  return name.empty() ? prefix : prefix + "." + name;
}

std::string quoted_list(const std::vector<std::string>& keys) {
  std::string s;
  for (const auto& k : keys) s += (s.empty() ? "\"" : ", \"") + k + "\"";
  return s;
}

}  // namespace

void Module::check_new_name(const char* what, const std::string& name) const {
  NABLA_CHECK(!name.empty() && name.find('.') == std::string::npos, what, ": ", this->name(),
              ": name '", name, "' must be non-empty and contain no '.'");
  auto taken = [&](const auto& list) {
    for (const auto& [n, v] : list) {
      if (n == name) return true;
    }
    return false;
  };
  NABLA_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), what, ": ",
              this->name(), " already has an attribute named '", name, "'");
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_new_name("register_parameter", name);
  if (!t.defined()) return t;
  if (!t.is_leaf()) t = t.detach();
  t.requires_grad_(requires_grad);
  parameters_.emplace_back(name, t);
  return t;
}

Tensor Module::unregister_parameter(const std::string& name) {
  for (auto it = parameters_.begin(); it != parameters_.end(); ++it) {
    if (it->first != name) continue;
    Tensor t = std::move(it->second);
    parameters_.erase(it);
    return t;
  }
  NABLA_CHECK(false, this->name(), ": no parameter named '", name, "' to remove");
  return {};
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name("register_buffer", name);
  if (t.defined()) buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name("register_module", name);
  NABLA_CHECK(module != nullptr, "register_module: ", this->name(), ": module '", name,
              "' is null");
  children_.emplace_back(name, std::move(module));
}

void Module::replace_child(const std::string& name, std::shared_ptr<Module> module) {
  NABLA_CHECK(module != nullptr, "replace_module: ", this->name(), ": module '", name,
              "' is null");
  for (auto& [n, child] : children_) {
    if (n == name) {
      child = std::move(module);
      return;
    }
  }
  NABLA_CHECK(false, "replace_module: ", this->name(), " has no submodule '", name, "'");
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::set<const TensorImpl*> seen;
  auto visit = [&](const auto& self, const Module& m, const std::string& prefix) -> void {
    for (const auto& [n, p] : m.parameters_) {
      if (seen.insert(p.impl_ptr().get()).second) out.emplace_back(join(prefix, n), p);
    }
    if (!recurse) return;
    for (const auto& [n, c] : m.children_) self(self, *c, join(prefix, n));
  };
  visit(visit, *this, "");
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, p] : named_parameters(recurse)) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  auto visit = [&](const auto& self, const Module& m, const std::string& prefix) -> void {
    for (const auto& [n, b] : m.buffers_) out.emplace_back(join(prefix, n), b);
    if (!recurse) return;
    for (const auto& [n, c] : m.children_) self(self, *c, join(prefix, n));
  };
  visit(visit, *this, "");
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, b] : named_buffers(recurse)) out.push_back(b);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return children_;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [n, c] : children_) out.push_back(c);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() {
  // A module living outside a shared_ptr (on the stack) is returned through a non-owning one.
  std::shared_ptr<Module> self = weak_from_this().lock();
  if (!self) self = std::shared_ptr<Module>(std::shared_ptr<Module>(), this);
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out{{"", self}};
  for (const auto& [n, c] : children_) {
    for (auto& [sub, m] : c->named_modules()) out.emplace_back(join(n, sub), m);
  }
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (const auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (auto& [n, p] : named_parameters()) {
    if (set_to_none) {
      p.set_grad(Tensor());
    } else if (p.grad().defined()) {
      p.grad().zero_();
    }
  }
}

Module& Module::requires_grad_(bool requires_grad) {
  for (auto& [n, p] : named_parameters()) p.requires_grad_(requires_grad);
  return *this;
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (const auto& [name, p] : named_parameters()) {
    if (!trainable_only || p.requires_grad()) n += p.numel();
  }
  return n;
}

void Module::collect_state(const std::string& prefix, StateDict& out) const {
  for (const auto& [n, p] : parameters_) out.emplace_back(join(prefix, n), p.detach());
  for (const auto& [n, b] : buffers_) out.emplace_back(join(prefix, n), b.detach());
  for (const auto& [n, c] : children_) c->collect_state(join(prefix, n), out);
}

StateDict Module::state_dict() const {
  StateDict out;
  collect_state("", out);
  return out;
}

void Module::load_state_dict(const StateDict& state, bool strict) {
  const StateDict own = state_dict();
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [n, t] : own) by_name.emplace(n, &t);
  std::vector<std::string> unexpected, mismatched, missing;
  std::set<std::string> given;
  for (const auto& [n, t] : state) {
    given.insert(n);
    auto it = by_name.find(n);
    if (it == by_name.end()) {
      unexpected.push_back(n);
    } else if (!t.defined() || t.shape() != it->second->shape()) {
      std::ostringstream os;
      os << "size mismatch for " << n << ": copying a param with shape "
         << (t.defined() ? t.shape().str() : "undefined")
         << " from checkpoint, the shape in current model is " << it->second->shape();
      mismatched.push_back(os.str());
    }
  }
  for (const auto& [n, t] : own) {
    if (!given.count(n)) missing.push_back(n);
  }
  std::string errors;
  if (strict && !unexpected.empty()) errors += "\n\tUnexpected key(s) in state_dict: " + quoted_list(unexpected) + ".";
  if (strict && !missing.empty()) errors += "\n\tMissing key(s) in state_dict: " + quoted_list(missing) + ".";
  for (const auto& m : mismatched) errors += "\n\t" + m + ".";
  NABLA_CHECK_SHAPE(errors.empty(), "Error(s) in loading state_dict for ", name(), ":", errors);
  NoGradGuard no_grad;
  for (const auto& [n, t] : state) {
    auto it = by_name.find(n);
    if (it == by_name.end()) continue;
    Tensor dst = *it->second;  // shares storage with the module's tensor
    dst.copy_(t);
  }
}

Tensor Module::forward(const Tensor& /*input*/) {
  NABLA_CHECK(false, "forward(Tensor) is not implemented for ", name());
  return {};
}

std::string Module::name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string full = status == 0 && demangled ? demangled : mangled;
  std::free(demangled);  // NOLINT(cppcoreguidelines-no-malloc): __cxa_demangle's contract
  const size_t colon = full.rfind("::");
  return colon == std::string::npos ? full : full.substr(colon + 2);
}

namespace {
void print_module(std::ostream& os, const Module& m, const std::string& indent) {
  os << m.name() << "(";
  const auto children = m.named_children();
  const std::string extra = m.extra_repr();
  if (children.empty()) {
    os << extra << ")";
    return;
  }
  os << "\n";
  if (!extra.empty()) os << indent << "  " << extra << "\n";
  for (const auto& [n, c] : children) {
    os << indent << "  (" << n << "): ";
    print_module(os, *c, indent + "  ");
    os << "\n";
  }
  os << indent << ")";
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Module& module) {
  print_module(os, module, "");
  return os;
}

std::string py_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // Python switches to exponent notation below 1e-4 and from 1e16 up.
  const bool sci = v != 0 && (std::abs(v) < 1e-4 || std::abs(v) >= 1e16);
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v,
                                 sci ? std::chars_format::scientific : std::chars_format::fixed);
  std::string s(buf, res.ptr);
  if (!sci && s.find('.') == std::string::npos) s += ".0";
  return s;
}

}  // namespace nabla::nn
