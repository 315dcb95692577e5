// Optimizer: the base of SGD, Adam and AdamW (torch.optim.Optimizer). It holds parameter
// groups with per-group options, per-parameter state, zero_grad and a flat state dict of
// tensors ("state.3.exp_avg", "param_groups.0.lr") that a checkpoint writer can store as is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nabla/core/tensor.h"

namespace nabla::optim {

/// A group of parameters with its own options (a dict in torch's param_groups). Unset options
/// take the optimizer's defaults when the optimizer is built; after that every option the
/// optimizer uses is set, so `opt.param_groups()[0].lr = 0.1` and `*group.lr` just work.
/// Typical use, biases and norm weights without weight decay:
///   AdamW opt({{.params = decay}, {.params = no_decay, .weight_decay = 0.0}},
///             AdamWOptions{.lr = 6e-4, .weight_decay = 0.1});
struct ParamGroup {
  std::vector<Tensor> params = {};
  std::optional<double> lr = std::nullopt;
  std::optional<double> weight_decay = std::nullopt;
  std::optional<double> momentum = std::nullopt;                 ///< SGD
  std::optional<double> dampening = std::nullopt;                ///< SGD
  std::optional<bool> nesterov = std::nullopt;                   ///< SGD
  std::optional<std::pair<double, double>> betas = std::nullopt;  ///< Adam, AdamW
  std::optional<double> eps = std::nullopt;                      ///< Adam, AdamW
};

/// Per-parameter state. Which fields are used depends on the optimizer; a parameter that never
/// had a gradient has no state (like torch's optimizer.state).
struct ParamState {
  int64_t step = 0;          ///< Adam/AdamW: updates applied so far
  Tensor momentum_buffer;    ///< SGD with momentum != 0
  Tensor exp_avg;            ///< Adam/AdamW first moment
  Tensor exp_avg_sq;         ///< Adam/AdamW second moment
  bool empty() const { return step == 0 && !momentum_buffer.defined() && !exp_avg.defined(); }
};

/// A flat, ordered list of named tensors (the same type as nn::StateDict).
using StateDict = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One update of every parameter that has a gradient, in place, with grad mode off; bumps
  /// each updated parameter's storage version. Parameters whose grad() is undefined are
  /// skipped and their state is untouched.
  void step() { step(1.0); }
  /// step() with every gradient first multiplied by grad_scale (a positive finite number),
  /// inside the update's own pass over the gradients: the same bits as scaling them in place,
  /// as clip_grad_norm_ does, then step(), with one read and write of every gradient less. The
  /// .grad tensors are left as they were. With grad_norm (clip.h) for gradient clipping:
  ///   opt.step(optim::grad_norm(params, 1.0).scale);
  void step(double grad_scale);
  /// "SGD", "Adam", "AdamW": for error messages.
  virtual std::string name() const = 0;

  /// Clears gradients: set_to_none drops them (the default, as in torch 2.x and the brief's
  /// API); otherwise they are zeroed in place and detached from any graph.
  void zero_grad(bool set_to_none = true);

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  /// Adds a group (its unset options take the defaults); a parameter may be in one group only.
  void add_param_group(ParamGroup group);

  /// Copies of the state and the group options, keyed like torch's state_dict with parameters
  /// numbered across groups in order: "state.<i>.step", "state.<i>.exp_avg",
  /// "state.<i>.exp_avg_sq", "state.<i>.momentum_buffer", "param_groups.<g>.params" (int64
  /// indices), "param_groups.<g>.<option>" (0-d float64; options lr, weight_decay, momentum,
  /// dampening, nesterov (0 or 1), beta1, beta2, eps, those the optimizer uses). step is a
  /// 0-d int64 (torch stores a float32 tensor).
  StateDict state_dict() const;
  /// Restores what state_dict() wrote, for an identical continuation. Checks that the groups
  /// hold the same parameter indices, that every key is known and that every state tensor has
  /// its parameter's shape; errors name the key.
  void load_state_dict(const StateDict& dict);

  /// The state of the i-th parameter counted across groups (empty until its first update).
  const ParamState& state(size_t i) const { return state_.at(i); }

 protected:
  Optimizer() = default;
  /// Sets unset options of group from the defaults and validates them (throws naming the
  /// optimizer and the option). Called for every group by add_param_group.
  virtual void resolve_options(ParamGroup& group) const = 0;
  /// A parameter to update: param and grad contiguous with the same shape and dtype; state
  /// is the parameter's own (empty before its first update), group the one it belongs to.
  struct ParamUpdate {
    Tensor param;
    Tensor grad;
    ParamState* state;
    const ParamGroup* group;
    double grad_scale;  ///< multiply grad by this first (rounded to its dtype): step(scale)
  };
  /// Updates every listed parameter in place (those with a gradient, in group order), so an
  /// optimizer can hand them all to one multi-tensor kernel.
  virtual void update(const std::vector<ParamUpdate>& updates) = 0;
  /// The state_dict field names of a parameter with state: {"momentum_buffer"} for SGD,
  /// {"step", "exp_avg", "exp_avg_sq"} for Adam; load_state_dict requires all of them.
  virtual std::vector<std::string> state_keys() const = 0;

  std::vector<ParamGroup> groups_;
  std::vector<ParamState> state_;  // one per parameter, counted across groups in order
};

}  // namespace nabla::optim
