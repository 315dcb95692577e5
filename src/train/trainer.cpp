// Trainer: the optimizer step (accumulation, clipping, schedule), evaluation and the fit loop.
#include "nabla/train/trainer.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <limits>

#include "nabla/autograd/autocast.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/core/error.h"
#include "nabla/core/rng.h"
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

// Every rank must hold the same model before rank 0's weights are broadcast: a mismatch is
// then one clear error on every rank rather than a truncated message on some of them.
void check_same_model(dist::Communicator& comm, const std::vector<Tensor>& state) {
  int64_t numel = 0;
  uint64_t shapes = 1469598103934665603ULL;  // FNV-1a over every tensor's sizes and dtype
  auto mix = [&](uint64_t v) { shapes = (shapes ^ v) * 1099511628211ULL; };
  for (const Tensor& t : state) {
    numel += t.numel();
    for (const int64_t d : t.shape()) mix(static_cast<uint64_t>(d));
    mix(static_cast<uint64_t>(t.dtype()));
  }
  Tensor mine = Tensor::empty({1, 3}, DType::I64);
  int64_t* m = mine.data<int64_t>();
  m[0] = static_cast<int64_t>(state.size());
  m[1] = numel;
  m[2] = static_cast<int64_t>(shapes);
  const Tensor all = comm.all_gather(mine);  // (world_size, 3)
  const int64_t* a = all.data<int64_t>();
  for (int r = 1; r < comm.world_size(); ++r) {
    const int64_t* o = a + 3 * r;
    NABLA_CHECK(o[0] == a[0] && o[1] == a[1] && o[2] == a[2], "Trainer: rank ", r,
                " has a model of ", o[0], " tensors and ", o[1], " elements, rank 0 one of ",
                a[0], " tensors and ", o[1] == a[1] ? "the same number of" : std::to_string(a[1]),
                " elements", o[1] == a[1] ? " but other shapes" : "",
                "\n---> HINT: every rank must build the same model (same flags and config)");
  }
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
  if (distributed()) start_data_parallel();
}

void Trainer::start_data_parallel() {
  const dist::Communicator& c = *opt_.comm;
  const std::initializer_list<const data::TokenLoader*> loaders = {&train_, val_};
  for (const data::TokenLoader* l : loaders) {
    if (l == nullptr) continue;
    NABLA_CHECK(l->world_size() == c.world_size() && l->rank() == c.rank(), "Trainer: rank ",
                c.rank(), " of ", c.world_size(), " was given a loader distributed as rank ",
                l->rank(), " of ", l->world_size(),
                "\n---> HINT: call TokenLoader::distribute(comm.rank(), comm.world_size())");
  }
  std::vector<Tensor> state;
  for (const auto& [name, t] : model_.state_dict()) state.push_back(t);
  check_same_model(*opt_.comm, state);
  // Rank 0's trainable parameters and buffers. Frozen parameters (a LoRA model's base) never
  // change and every rank loaded them from the same file: sending them would copy the whole
  // base model at every start.
  std::vector<Tensor> sent = params_;
  for (const auto& [name, b] : model_.named_buffers()) sent.push_back(b);
  dist::broadcast_tensors(*opt_.comm, sent, 0);
  reducer_ = std::make_unique<dist::GradReducer>(*opt_.comm, params_, opt_.bucket_bytes);
  seed_rank_generator();
}

// Dropout masks must differ between ranks, which see different rows: rank r draws from seed
// + r (nanoGPT's seed_offset = ddp_rank). Ranks draw equally many numbers, so the offsets
// stay equal and rank 0's state, saved in checkpoints, gives every rank's on resume.
void Trainer::seed_rank_generator() {
  if (!distributed()) return;
  Generator& g = default_generator();
  g.set_state(g.seed() + static_cast<uint64_t>(opt_.comm->rank()), g.offset());
}

double Trainer::global_mean(double value, bool stop) {
  if (!distributed()) {
    stop_ = stop;
    return value;
  }
  Tensor v = Tensor::empty({2}, DType::F64);
  v.data<double>()[0] = value;
  v.data<double>()[1] = stop ? 1.0 : 0.0;
  opt_.comm->all_reduce(v, dist::ReduceOp::Sum);
  stop_ = v.data<double>()[1] > 0;
  return v.data<double>()[0] / static_cast<double>(opt_.comm->world_size());
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
  const AutocastGuard autocast(opt_.autocast);
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
  // The reducer's clocks before this step's hooks run.
  const double ar_before = reducer_ != nullptr ? reducer_->seconds() : 0.0;
  const double wait_before = reducer_ != nullptr ? reducer_->wait_seconds() : 0.0;
  for (int64_t m = 0; m < opt_.grad_accum; ++m) {
    // Gradients are averaged once, after the last micro-batch (DDP's no_sync before it).
    if (reducer_ != nullptr && opt_.overlap_grad_reduce && m == opt_.grad_accum - 1) {
      reducer_->prepare_for_backward();
    }
    loss_sum += loss_of(train_.next());
  }
  StepStats s;
  if (reducer_ != nullptr) {
    reducer_->all_reduce_grads();
    s.allreduce_seconds = reducer_->seconds() - ar_before;
    s.allreduce_wait_seconds = reducer_->wait_seconds() - wait_before;
  }
  // The global batch's mean: ranks hold equal slices, so the mean of their means.
  s.loss = global_mean(loss_sum / static_cast<double>(opt_.grad_accum), stop_requested());
  const std::string last_good = last_checkpoint_.empty()
                                    ? std::string("no checkpoint was written")
                                    : "the last good checkpoint " + last_checkpoint_ + " is unchanged";
  NABLA_CHECK(std::isfinite(s.loss), "train: step ", step_ + 1, ": the loss is ", s.loss,
              "; the step was skipped and training stopped (", last_good,
              ")\n---> HINT: lower --lr, raise --warmup-steps or set --grad-clip");
  // An infinite max_norm measures the norm without clipping. The clipping scale is applied
  // inside the optimizer's pass over the gradients (the same bits as clip_grad_norm_).
  const optim::GradNorm norm = optim::grad_norm(
      params_, opt_.grad_clip > 0 ? opt_.grad_clip : std::numeric_limits<double>::infinity());
  s.grad_norm = norm.total;
  NABLA_CHECK(std::isfinite(s.grad_norm), "train: step ", step_ + 1, ": the gradient norm is ",
              s.grad_norm, "; the step was skipped and training stopped (", last_good,
              ")\n---> HINT: lower --lr or set --grad-clip");
  s.lr = lr_at(step_);
  for (optim::ParamGroup& g : optimizer_->param_groups()) g.lr = s.lr;
  optimizer_->step(norm.scale);
  optimizer_->zero_grad(true);
  s.step = ++step_;
  s.tokens = opt_.grad_accum * train_.global_batch_size() * train_.block_size();
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
  last_val_ = global_mean(sum / static_cast<double>(opt_.eval_iters), stop_);
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
    const bool main = is_main_rank();
    if (main) {
      log_step(s, val);
      write_metrics(s, val);
    }
    if (main && opt_.sample && opt_.sample_every > 0 && (step_ % opt_.sample_every == 0 || last)) {
      NoGradGuard no_grad;
      model_.eval();
      const std::string text = opt_.sample(model_);
      model_.train();
      if (opt_.log != nullptr) *opt_.log << "---- sample at step " << step_ << " ----\n" << text << "\n----\n";
    }
    // Ranks stop together, at the step where any of them saw the request.
    const bool stop = distributed() ? stop_ : stop_requested();
    const bool due = opt_.checkpoint_every > 0 && step_ % opt_.checkpoint_every == 0;
    if (!ckpt.empty() && (due || last || stop || step_ == end)) {
      save_checkpoint(ckpt);
      last_checkpoint_ = ckpt;
      if (main && opt_.log != nullptr) *opt_.log << "saved checkpoint " << ckpt << " (step " << step_ << ")\n";
    }
    if (stop) {
      r.interrupted = true;
      if (main && opt_.log != nullptr) *opt_.log << "stopped at step " << step_ << " on request\n";
      break;
    }
  }
  r.step = step_;
  r.val_loss = last_val_;
  r.checkpoint = last_checkpoint_;
  return r;
}

}  // namespace nabla::train
