// Trainer: the optimizer step (accumulation, clipping, schedule), evaluation and the fit loop.
#include "nabla/train/trainer.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <limits>

#include "nabla/autograd/grad_mode.h"
#include "nabla/core/error.h"
#include "nabla/ops/nn_functional.h"
#include "nabla/optim/clip.h"
#include "nabla/optim/schedule.h"

namespace nabla::train {
namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int /*sig*/) { g_stop = 1; }

// nanoGPT's configure_optimizers: every parameter with >= 2 dims (matmul weights,
// embeddings) decays, biases and norm weights do not.
std::vector<optim::ParamGroup> decay_groups(const std::vector<Tensor>& params, double wd) {
  optim::ParamGroup decay{.weight_decay = wd}, no_decay{.weight_decay = 0.0};
  for (const Tensor& p : params) (p.dim() >= 2 ? decay : no_decay).params.push_back(p);
  std::vector<optim::ParamGroup> groups;
  if (!decay.params.empty()) groups.push_back(std::move(decay));
  if (!no_decay.params.empty()) groups.push_back(std::move(no_decay));
  return groups;
}

}  // namespace

void install_stop_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // a second Ctrl-C kills the process as usual
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}
bool stop_requested() { return g_stop != 0; }
void request_stop() { g_stop = 1; }
void clear_stop() { g_stop = 0; }

Trainer::Trainer(models::CausalLM& model, data::TokenLoader& train_data,
                 data::TokenLoader* val_data, TrainOptions options)
    : model_(model), train_(train_data), val_(val_data), opt_(std::move(options)) {
  NABLA_CHECK(opt_.max_steps > 0 && opt_.grad_accum > 0 && opt_.eval_iters > 0,
              "Trainer: max_steps, grad_accum and eval_iters must be positive, got ",
              opt_.max_steps, ", ", opt_.grad_accum, ", ", opt_.eval_iters);
  NABLA_CHECK(opt_.warmup_steps >= 0 && opt_.lr > 0 && opt_.min_lr >= 0 && opt_.grad_clip >= 0,
              "Trainer: need warmup_steps >= 0, lr > 0, min_lr >= 0, grad_clip >= 0");
  const int64_t T = train_.block_size();
  NABLA_CHECK(T <= model_.max_seq_len(), "Trainer: block size ", T,
              " is longer than the model's ", model_.max_seq_len(), " positions");
  const int64_t data_vocab = train_.shard().vocab_size();
  NABLA_CHECK(data_vocab <= model_.vocab_size(), "Trainer: the data's vocabulary (", data_vocab,
              " tokens, ", train_.shard().source(), ") is larger than the model's (",
              model_.vocab_size(), ")");
  for (const auto& [name, p] : model_.named_parameters()) {
    if (p.requires_grad()) params_.push_back(p);
  }
  NABLA_CHECK(!params_.empty(), "Trainer: the model has no parameter that requires grad");
  num_params_ = model_.num_parameters();
  optimizer_ = std::make_unique<optim::AdamW>(
      decay_groups(params_, opt_.weight_decay),
      optim::AdamWOptions{.lr = opt_.lr, .betas = {opt_.beta1, opt_.beta2}, .eps = opt_.eps,
                          .weight_decay = opt_.weight_decay});
}

double Trainer::lr_at(int64_t s) const {
  const int64_t decay = opt_.lr_decay_steps > 0 ? opt_.lr_decay_steps : opt_.max_steps;
  return optim::cosine_with_warmup_lr(s, opt_.warmup_steps, decay, opt_.lr, opt_.min_lr);
}

// Mean cross-entropy of the next-token predictions of batch (B, T + 1).
double Trainer::loss_of(const Tensor& batch) {
  const int64_t B = batch.size(0), T = batch.size(1) - 1;
  const Tensor x = batch.narrow(1, 0, T).contiguous();   // (B, T)
  const Tensor y = batch.narrow(1, 1, T).contiguous();   // (B, T)
  const Tensor logits = model_.forward(x, 0, nullptr);   // (B, T, V)
  const Tensor loss = cross_entropy(logits.reshape({B * T, logits.size(-1)}), y.reshape({B * T}));
  const double value = loss.item<float>();
  if (autograd::is_grad_enabled()) (loss / static_cast<double>(opt_.grad_accum)).backward();
  return value;
}

StepStats Trainer::train_step() {
  const auto t0 = std::chrono::steady_clock::now();
  model_.train();
  optimizer_->zero_grad(true);
  double loss_sum = 0;
  for (int64_t m = 0; m < opt_.grad_accum; ++m) loss_sum += loss_of(train_.next());
  StepStats s;
  s.loss = loss_sum / static_cast<double>(opt_.grad_accum);
  const std::string last_good = last_checkpoint_.empty()
                                    ? std::string("no checkpoint was written")
                                    : "the last good checkpoint " + last_checkpoint_ + " is unchanged";
  NABLA_CHECK(std::isfinite(s.loss), "train: step ", step_ + 1, ": the loss is ", s.loss,
              "; the step was skipped and training stopped (", last_good,
              ")\n---> HINT: lower --lr, raise --warmup-steps or set --grad-clip");
  // An infinite max_norm measures the norm without clipping.
  s.grad_norm = optim::clip_grad_norm_(
      params_, opt_.grad_clip > 0 ? opt_.grad_clip : std::numeric_limits<double>::infinity());
  NABLA_CHECK(std::isfinite(s.grad_norm), "train: step ", step_ + 1, ": the gradient norm is ",
              s.grad_norm, "; the step was skipped and training stopped (", last_good,
              ")\n---> HINT: lower --lr or set --grad-clip");
  s.lr = lr_at(step_);
  for (optim::ParamGroup& g : optimizer_->param_groups()) g.lr = s.lr;
  optimizer_->step();
  optimizer_->zero_grad(true);
  s.step = ++step_;
  s.tokens = opt_.grad_accum * train_.batch_size() * train_.block_size();
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  elapsed_ += s.seconds;
  ++steps_timed_;
  return s;
}

double Trainer::evaluate() {
  NABLA_CHECK(val_ != nullptr, "Trainer::evaluate: no validation data");
  NoGradGuard no_grad;
  model_.eval();
  val_->reset();
  double sum = 0;
  for (int64_t i = 0; i < opt_.eval_iters; ++i) sum += loss_of(val_->next());
  model_.train();
  last_val_ = sum / static_cast<double>(opt_.eval_iters);
  return *last_val_;
}

FitResult Trainer::fit(int64_t until_step) {
  const int64_t end = until_step >= 0 ? std::min(until_step, opt_.max_steps) : opt_.max_steps;
  const std::string ckpt = opt_.out_dir.empty() ? "" : opt_.out_dir + "/checkpoint";
  FitResult r;
  while (step_ < end) {
    const StepStats s = train_step();
    r.train_loss = s.loss;
    const bool last = step_ == opt_.max_steps;
    std::optional<double> val;
    if (val_ != nullptr && ((opt_.eval_every > 0 && step_ % opt_.eval_every == 0) || last)) {
      val = evaluate();
    }
    if (opt_.on_step) opt_.on_step(s);
    log_step(s, val);
    write_metrics(s, val);
    if (opt_.sample && opt_.sample_every > 0 && (step_ % opt_.sample_every == 0 || last)) {
      NoGradGuard no_grad;
      model_.eval();
      const std::string text = opt_.sample(model_);
      model_.train();
      if (opt_.log != nullptr) *opt_.log << "---- sample at step " << step_ << " ----\n" << text << "\n----\n";
    }
    const bool stop = stop_requested();
    const bool due = opt_.checkpoint_every > 0 && step_ % opt_.checkpoint_every == 0;
    if (!ckpt.empty() && (due || last || stop || step_ == end)) {
      save_checkpoint(ckpt);
      last_checkpoint_ = ckpt;
      if (opt_.log != nullptr) *opt_.log << "saved checkpoint " << ckpt << " (step " << step_ << ")\n";
    }
    if (stop) {
      r.interrupted = true;
      if (opt_.log != nullptr) *opt_.log << "stopped at step " << step_ << " on request\n";
      break;
    }
  }
  r.step = step_;
  r.val_loss = last_val_;
  r.checkpoint = last_checkpoint_;
  return r;
}

}  // namespace nabla::train
