// The training loop for any models::CausalLM (nanoGPT's train.py, one process): AdamW with
// decay groups, warmup + cosine lr, gradient clipping and accumulation, periodic evaluation,
// samples, checkpoints with exact resume, a progress line and JSONL metrics; data parallel
// over the ranks of a dist::Communicator (mpirun -np N), equal to one process with N times
// the batch.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "nabla/data/loader.h"
#include "nabla/dist/data_parallel.h"
#include "nabla/models/causal_lm.h"
#include "nabla/optim/adam.h"

namespace nabla::train {

struct StepStats;

struct TrainOptions {
  int64_t max_steps = 1000;   ///< optimizer steps
  int64_t grad_accum = 1;     ///< micro-batches per step (losses averaged)
  double lr = 6e-4;           ///< lr_max of the schedule
  double min_lr = 6e-5;
  int64_t warmup_steps = 100;
  int64_t lr_decay_steps = -1;  ///< the cosine reaches min_lr here; -1: max_steps
  double weight_decay = 0.1;  ///< on parameters with >= 2 dims only (nanoGPT's groups)
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double grad_clip = 1.0;     ///< max total gradient norm; 0 disables clipping
  int64_t eval_every = 250;   ///< 0: evaluate only at the end
  int64_t eval_iters = 20;    ///< validation batches per evaluation (sequential from the start)
  int64_t checkpoint_every = 0;  ///< 0: checkpoint only at the end (and on interrupt)
  std::string out_dir = {};   ///< checkpoints go to out_dir/checkpoint; empty: none
  int64_t log_every = 1;      ///< progress line every N steps (and on eval steps)
  std::string metrics_path = {};  ///< JSONL, one object per step, appended; empty: none
  double peak_flops = 3.3e11; ///< MFU's denominator; the default is oneDNN's measured f32
                              ///< matmul peak on 2 threads of this machine (DESIGN.md)
  int64_t sample_every = 0;   ///< 0: no samples
  /// Called (model in eval mode, no grad) to produce a sample text to print.
  std::function<std::string(models::CausalLM&)> sample = {};
  std::ostream* log = nullptr;  ///< progress lines; nullptr: silent
  /// Called after every optimizer step (before evaluation and checkpointing).
  std::function<void(const StepStats&)> on_step = {};
  /// What a checkpoint holds of the model. Empty: model.safetensors with the whole state dict.
  /// Set, save_model(dir) writes the model's part into the checkpoint directory being built
  /// and load_model(dir) reads it back on resume, checking everything before it changes the
  /// model (LoRA fine-tuning keeps only the adapter: the frozen base never changes).
  std::function<void(const std::string& dir)> save_model = {};
  std::function<void(const std::string& dir)> load_model = {};
  /// Data parallelism: every rank of comm runs a Trainer on its slice of each global batch
  /// (the loaders must be distributed over the same ranks: TokenLoader::distribute). The
  /// trainable parameters and buffers start as rank 0's (frozen ones, which every rank loads
  /// from the same file, are not sent), gradients are averaged across ranks before
  /// clipping, losses are global means, and only rank 0 logs, writes metrics, samples and
  /// checkpoints. Rank r's dropout draws from seed + r, so with dropout the ranks' masks
  /// differ (and the run equals one process only in distribution; without dropout, exactly
  /// up to rounding). nullptr (or a world of one): one process.
  dist::Communicator* comm = nullptr;
  int64_t bucket_bytes = dist::kDefaultBucketBytes;  ///< gradient all-reduce bucket size
  /// Start each bucket's all-reduce during the backward pass as soon as its gradients are
  /// final (DDP; Megatron's --overlap-grad-reduce); false: all buckets after it. The same
  /// result either way.
  bool overlap_grad_reduce = true;
  /// The dtype linear layers multiply in, forward and backward (AutocastGuard): kFloat32, or
  /// kBFloat16 for mixed precision (bf16 products, f32 accumulation, f32 master weights and
  /// optimizer state; no loss scaling: bf16 has f32's range).
  DType autocast = DType::F32;
};

/// What one optimizer step did.
struct StepStats {
  int64_t step = 0;         ///< steps completed after this one (1-based)
  double loss = 0;          ///< mean training loss over the micro-batches
  double grad_norm = 0;     ///< total norm before clipping
  double lr = 0;
  double seconds = 0;
  int64_t tokens = 0;        ///< over all ranks
  double allreduce_seconds = 0;  ///< spent averaging gradients (0 in one process)
  double allreduce_wait_seconds = 0;  ///< the part after the backward pass (not overlapped)
};

struct FitResult {
  int64_t step = 0;                   ///< steps completed
  double train_loss = 0;              ///< of the last step
  std::optional<double> val_loss = {};  ///< of the last evaluation
  bool interrupted = false;           ///< stopped by request_stop() / SIGINT
  std::string checkpoint = {};       ///< the last checkpoint written ("" if none)
};

/// Trains model on batches of train_data. val_data (may be null) is read sequentially from
/// its start at every evaluation, so evaluations see the same batches. Only parameters with
/// requires_grad reach the optimizer (a LoRA model's frozen base is left alone). The loaders
/// and the model must outlive the trainer.
class Trainer {
 public:
  Trainer(models::CausalLM& model, data::TokenLoader& train_data, data::TokenLoader* val_data,
          TrainOptions options);

  /// Restores model weights, optimizer state, step, the default generator and the training
  /// data position from a checkpoint directory written by save_checkpoint (or from a
  /// directory holding one as "checkpoint"), so that training continues bitwise as if it
  /// had never stopped (same thread count).
  void resume(const std::string& dir);
  /// Trains until max_steps (or until_step when given), evaluating, sampling and checkpointing
  /// on schedule, and checkpoints at the end. A stop request (SIGINT) ends it after the
  /// current step with a checkpoint. A non-finite loss or gradient norm throws nabla::Error
  /// before the update; no checkpoint is written after it.
  FitResult fit(int64_t until_step = -1);
  /// One optimizer step (grad_accum micro-batches). Throws on a non-finite loss or gradient
  /// norm, leaving the parameters untouched.
  StepStats train_step();
  /// Mean loss over eval_iters validation batches (no grad, eval mode, restores train mode).
  double evaluate();
  /// Writes a complete checkpoint to dir, replacing any checkpoint there atomically: the
  /// files go to a temporary sibling directory that is then swapped in. Holds
  /// model.safetensors (the model's state dict, loadable by any safetensors reader) or what
  /// TrainOptions::save_model writes, optimizer.safetensors (optim::Optimizer::state_dict) and
  /// trainer.json (step, data position, generator state). Data parallel: only rank 0 writes;
  /// other ranks return. The data position counts global batches, so any number of ranks can
  /// resume it with the same global batch size.
  void save_checkpoint(const std::string& dir) const;

  int64_t step() const { return step_; }
  optim::AdamW& optimizer() { return *optimizer_; }
  /// The lr of step s (0-based) of the warmup + cosine schedule.
  double lr_at(int64_t s) const;

 private:
  void log_step(const StepStats& s, std::optional<double> val_loss);
  void write_metrics(const StepStats& s, std::optional<double> val_loss);
  double loss_of(const Tensor& batch);
  bool distributed() const { return opt_.comm != nullptr && opt_.comm->is_distributed(); }
  bool is_main_rank() const { return !distributed() || opt_.comm->rank() == 0; }
  void start_data_parallel();
  void seed_rank_generator();
  /// The mean of value over ranks; also agrees on a stop request (any rank's) into stop_.
  double global_mean(double value, bool stop);

  models::CausalLM& model_;
  data::TokenLoader& train_;
  data::TokenLoader* val_;
  TrainOptions opt_;
  std::vector<Tensor> params_;  // those with requires_grad, in named_parameters order
  std::unique_ptr<optim::AdamW> optimizer_;
  std::unique_ptr<dist::GradReducer> reducer_;  // data parallel only
  bool stop_ = false;           // a stop request agreed by all ranks at the last step
  int64_t step_ = 0;
  int64_t num_params_ = 0;
  double elapsed_ = 0;          // seconds spent in steps in this process
  int64_t steps_timed_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::optional<double> last_val_;
  std::string last_checkpoint_;
};

/// Installs a SIGINT/SIGTERM handler that only sets the stop flag (the loop saves and exits
/// after the current step); a second signal restores the default action.
void install_stop_handler();
/// Whether a stop was requested (signal or request_stop()).
bool stop_requested();
void request_stop();
void clear_stop();

}  // namespace nabla::train
