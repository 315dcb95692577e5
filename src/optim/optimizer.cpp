// Optimizer base: parameter groups, the step loop, zero_grad and the flat state dict.
// Tensors are copied and cleared with the copy kernels directly, so the optimizer does not
// depend on which ops exist.
#include "nabla/optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string_view>

#include "nabla/autograd/grad_mode.h"
#include "nabla/kernels/cpu/copy.h"

namespace nabla::optim {

namespace {

// A contiguous copy of t with its dtype (t may be a strided view).
Tensor copy_of(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  kernels::cpu::copy_strided(out.raw_data(), t.raw_data(), t.element_size(), t.shape().data(),
                             t.strides().data(), t.dim());
  return out;
}

Tensor scalar_f64(double v) {
  Tensor t = Tensor::empty({}, kFloat64);
  t.data<double>()[0] = v;
  return t;
}

Tensor scalar_i64(int64_t v) {
  Tensor t = Tensor::empty({}, kInt64);
  t.data<int64_t>()[0] = v;
  return t;
}

// The options a group stores, as (name, pointer to the optional double) pairs; betas are two.
std::vector<std::pair<std::string, double>> group_options(const ParamGroup& g) {
  std::vector<std::pair<std::string, double>> out;
  auto put = [&](const char* name, const std::optional<double>& v) {
    if (v) out.emplace_back(name, *v);
  };
  put("lr", g.lr);
  put("weight_decay", g.weight_decay);
  put("momentum", g.momentum);
  put("dampening", g.dampening);
  if (g.nesterov) out.emplace_back("nesterov", *g.nesterov ? 1.0 : 0.0);
  if (g.betas) {
    out.emplace_back("beta1", g.betas->first);
    out.emplace_back("beta2", g.betas->second);
  }
  put("eps", g.eps);
  return out;
}

// Sets option `name` of g; false when g does not use it.
bool set_group_option(ParamGroup& g, std::string_view name, double v) {
  auto set = [&](std::optional<double>& field) {
    if (!field) return false;
    field = v;
    return true;
  };
  if (name == "lr") return set(g.lr);
  if (name == "weight_decay") return set(g.weight_decay);
  if (name == "momentum") return set(g.momentum);
  if (name == "dampening") return set(g.dampening);
  if (name == "eps") return set(g.eps);
  if (name == "nesterov" && g.nesterov) {
    g.nesterov = v != 0.0;
    return true;
  }
  if (name == "beta1" && g.betas) {
    g.betas->first = v;
    return true;
  }
  if (name == "beta2" && g.betas) {
    g.betas->second = v;
    return true;
  }
  return false;
}

// "state.12.exp_avg" -> (12, "exp_avg"); nullopt when key does not have that form.
std::optional<std::pair<size_t, std::string>> split_key(const std::string& key,
                                                        std::string_view prefix) {
  if (key.rfind(prefix, 0) != 0) return std::nullopt;
  const size_t dot = key.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size()) return std::nullopt;
  const std::string num = key.substr(prefix.size(), dot - prefix.size());
  if (!std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::make_pair(static_cast<size_t>(std::stoull(num)), key.substr(dot + 1));
}

double scalar_value(const Tensor& t, const std::string& key, const std::string& op) {
  NABLA_CHECK_SHAPE(t.numel() == 1, op, ": load_state_dict: ", key,
                    " must hold one value, got shape ", t.shape());
  return t.to_vector()[0];
}

}  // namespace

void Optimizer::add_param_group(ParamGroup group) {
  NABLA_CHECK(!group.params.empty(), name(), ": optimizer got an empty parameter group");
  std::set<const TensorImpl*> seen;
  for (const ParamGroup& g : groups_) {
    for (const Tensor& p : g.params) seen.insert(&p.impl());
  }
  for (size_t i = 0; i < group.params.size(); ++i) {
    const Tensor& p = group.params[i];
    NABLA_CHECK(p.defined(), name(), ": parameter ", i, " of the new group is undefined");
    NABLA_CHECK(p.is_leaf(), name(), ": can't optimize a non-leaf tensor (parameter ", i,
                ", ", p.describe(), ")");
    NABLA_CHECK_DTYPE(p.is_floating_point(), name(), ": parameter ", i,
                      " must be floating point, got ", p.describe());
    NABLA_CHECK(p.is_contiguous(), name(), ": parameter ", i, " (", p.describe(),
                ") must be contiguous");
    NABLA_CHECK(seen.insert(&p.impl()).second, name(),
                ": some parameters appear in more than one parameter group (parameter ", i,
                ", ", p.describe(), ")");
  }
  resolve_options(group);
  state_.resize(state_.size() + group.params.size());
  groups_.push_back(std::move(group));
}

void Optimizer::step(double grad_scale) {
  NABLA_CHECK(std::isfinite(grad_scale) && grad_scale > 0.0, name(),
              ".step: grad_scale must be a positive finite number, got ", grad_scale);
  NoGradGuard no_grad;
  std::vector<ParamUpdate> updates;
  size_t index = 0;
  for (const ParamGroup& group : groups_) {
    for (const Tensor& p : group.params) {
      ParamState& st = state_[index++];
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      NABLA_CHECK_SHAPE(g.shape() == p.shape() && g.dtype() == p.dtype(), name(),
                        ": gradient ", g.describe(), " does not match parameter ", p.describe());
      updates.push_back({p, g.is_contiguous() ? g : copy_of(g), &st, &group, grad_scale});
    }
  }
  if (updates.empty()) return;
  update(updates);
  for (const ParamUpdate& u : updates) u.param.storage()->bump_version();
}

void Optimizer::zero_grad(bool set_to_none) {
  for (const ParamGroup& group : groups_) {
    for (const Tensor& p : group.params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      if (set_to_none) {
        p.set_grad(Tensor());
        continue;
      }
      if (g.grad_fn()) {
        g.detach_();
      } else {
        g.impl().requires_grad = false;
      }
      if (g.is_contiguous()) {
        kernels::cpu::fill(g.raw_data(), g.dtype(), 0.0, g.numel());
      } else {
        const Tensor zero = Tensor::empty({}, g.dtype());
        kernels::cpu::fill(zero.raw_data(), g.dtype(), 0.0, 1);
        const Shape zero_strides(g.strides().size(), 0);
        kernels::cpu::copy_strided_to_strided(g.raw_data(), g.strides().data(), zero.raw_data(),
                                              zero_strides.data(), g.element_size(),
                                              g.shape().data(), g.dim());
      }
      g.storage()->bump_version();
    }
  }
}

StateDict Optimizer::state_dict() const {
  StateDict out;
  for (size_t i = 0; i < state_.size(); ++i) {
    const ParamState& st = state_[i];
    if (st.empty()) continue;
    const std::string prefix = "state." + std::to_string(i) + ".";
    if (st.step > 0) out.emplace_back(prefix + "step", scalar_i64(st.step));
    if (st.momentum_buffer.defined()) {
      out.emplace_back(prefix + "momentum_buffer", copy_of(st.momentum_buffer));
    }
    if (st.exp_avg.defined()) out.emplace_back(prefix + "exp_avg", copy_of(st.exp_avg));
    if (st.exp_avg_sq.defined()) out.emplace_back(prefix + "exp_avg_sq", copy_of(st.exp_avg_sq));
  }
  int64_t first = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    const auto n = static_cast<int64_t>(groups_[g].params.size());
    Tensor indices = Tensor::empty({n}, kInt64);
    for (int64_t j = 0; j < n; ++j) indices.data<int64_t>()[j] = first + j;
    first += n;
    out.emplace_back(prefix + "params", indices);
    for (const auto& [key, value] : group_options(groups_[g])) {
      out.emplace_back(prefix + key, scalar_f64(value));
    }
  }
  return out;
}

void Optimizer::load_state_dict(const StateDict& dict) {
  const std::string op = name() + ": load_state_dict";
  std::vector<Tensor> params;  // all parameters, counted across groups
  std::vector<int64_t> group_first;
  for (const ParamGroup& g : groups_) {
    group_first.push_back(static_cast<int64_t>(params.size()));
    params.insert(params.end(), g.params.begin(), g.params.end());
  }
  const std::vector<std::string> fields = state_keys();
  std::vector<ParamGroup> groups = groups_;
  std::vector<ParamState> state(state_.size());
  std::set<std::string> loaded;
  for (const auto& [key, t] : dict) {
    NABLA_CHECK(t.defined(), op, ": ", key, " is an undefined tensor");
    NABLA_CHECK(loaded.insert(key).second, op, ": key ", key, " appears twice");
    if (auto s = split_key(key, "state.")) {
      const auto& [i, field] = *s;
      NABLA_CHECK(i < params.size(), op, ": unexpected key ", key, " (the optimizer has ",
                  params.size(), " parameters)");
      NABLA_CHECK(std::find(fields.begin(), fields.end(), field) != fields.end(), op,
                  ": unexpected key ", key, " (", name(), " keeps no '", field, "' state)");
      ParamState& st = state[i];
      if (field == "step") {
        const double v = scalar_value(t, key, op);
        NABLA_CHECK(v >= 1 && v == static_cast<double>(static_cast<int64_t>(v)), op, ": ", key,
                    " must be a positive integer, got ", v);
        st.step = static_cast<int64_t>(v);
        continue;
      }
      const Tensor& p = params[i];
      NABLA_CHECK_SHAPE(t.shape() == p.shape(), op, ": ", key, " has shape ", t.shape(),
                        " but parameter ", i, " has shape ", p.shape());
      const DType want = p.dtype() == DType::F64 ? DType::F64 : DType::F32;
      NABLA_CHECK_DTYPE(t.dtype() == want, op, ": ", key, " has dtype ", t.dtype(),
                        ", expected ", want, " for parameter ", i, " (", p.describe(), ")");
      Tensor& dst = field == "momentum_buffer" ? st.momentum_buffer
                    : field == "exp_avg"       ? st.exp_avg
                                               : st.exp_avg_sq;
      dst = copy_of(t);
    } else if (auto g = split_key(key, "param_groups.")) {
      const auto& [gi, field] = *g;
      NABLA_CHECK(gi < groups.size(), op, ": unexpected key ", key, " (the optimizer has ",
                  groups.size(), " parameter groups)");
      if (field == "params") {
        const auto n = static_cast<int64_t>(groups[gi].params.size());
        bool same = t.dtype() == kInt64 && t.dim() == 1 && t.numel() == n;
        for (int64_t j = 0; same && j < n; ++j) {
          same = t.data<int64_t>()[j] == group_first[gi] + j;
        }
        NABLA_CHECK(same, op, ": ", key, " (", t.describe(), ") does not match the optimizer's ",
                    "group ", gi, ", which holds parameters ", group_first[gi], "..",
                    group_first[gi] + n - 1);
        continue;
      }
      NABLA_CHECK(set_group_option(groups[gi], field, scalar_value(t, key, op)), op,
                  ": unexpected key ", key, " (", name(), " has no option '", field, "')");
    } else {
      NABLA_CHECK(false, op, ": unexpected key ", key);
    }
  }
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const std::string prefix = "param_groups." + std::to_string(gi) + ".";
    NABLA_CHECK(loaded.count(prefix + "params"), op, ": missing key ", prefix, "params");
    for (const auto& [option, value] : group_options(groups[gi])) {
      NABLA_CHECK(loaded.count(prefix + option), op, ": missing key ", prefix, option);
    }
  }
  for (size_t i = 0; i < state.size(); ++i) {
    if (state[i].empty()) continue;
    for (const std::string& field : fields) {
      const std::string key = "state." + std::to_string(i) + "." + field;
      NABLA_CHECK(loaded.count(key), op, ": missing key ", key);
    }
  }
  groups_ = std::move(groups);
  state_ = std::move(state);
}

}  // namespace nabla::optim
