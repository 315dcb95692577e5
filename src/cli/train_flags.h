// The training flags that `nabla train` and `nabla finetune` share (nanoGPT's names), parsed
// into train::TrainOptions.
#pragma once

#include <string>

#include "flags.h"
#include "nabla/train/trainer.h"

namespace nabla::cli {

/// --dtype: f32, or bf16 for mixed precision (TrainOptions::autocast).
inline DType training_dtype(const std::string& cmd, const std::string& v) {
  if (v == "f32" || v == "float32") return DType::F32;
  if (v == "bf16" || v == "bfloat16") return DType::BF16;
  NABLA_CHECK(false, cmd, ": --dtype must be f32 or bf16 for training, got '", v, "'");
  return DType::F32;
}

/// Sets the TrainOptions field that flag a names from its value v; false when a is not one of
/// the shared training flags.
inline bool parse_train_flag(
    const std::string& cmd, const std::string& a, const std::string& v, train::TrainOptions& t) {
  auto i = [&] { return parse_int(cmd, a, v); };
  auto d = [&] { return parse_double(cmd, a, v); };
  if (a == "--max-steps") t.max_steps = i();
  else if (a == "--grad-accum") t.grad_accum = i();
  else if (a == "--lr") t.lr = d();
  else if (a == "--min-lr") t.min_lr = d();
  else if (a == "--warmup-steps" || a == "--warmup") t.warmup_steps = i();
  else if (a == "--lr-decay-steps") t.lr_decay_steps = i();
  else if (a == "--weight-decay") t.weight_decay = d();
  else if (a == "--beta1") t.beta1 = d();
  else if (a == "--beta2") t.beta2 = d();
  else if (a == "--grad-clip") t.grad_clip = d();
  else if (a == "--eval-every") t.eval_every = i();
  else if (a == "--eval-iters") t.eval_iters = i();
  else if (a == "--sample-every") t.sample_every = i();
  else if (a == "--checkpoint-every" || a == "--save-every") t.checkpoint_every = i();
  else if (a == "--log-every") t.log_every = i();
  else if (a == "--peak-tflops") t.peak_flops = d() * 1e12;
  else if (a == "--overlap-grad-reduce") {
    const int64_t on = i();
    NABLA_CHECK(on == 0 || on == 1, cmd, ": --overlap-grad-reduce expects 0 or 1, got ", v);
    t.overlap_grad_reduce = on == 1;
  }
  else if (a == "--dtype") t.autocast = training_dtype(cmd, v);
  else return false;
  return true;
}

}  // namespace nabla::cli
