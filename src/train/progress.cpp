// The trainer's progress line and JSONL metrics.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nabla/core/error.h"
#include "nabla/train/trainer.h"

namespace nabla::train {
namespace {

// "1h02m03s", "4m05s", "6s".
std::string duration(double seconds) {
  const auto s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  }
  return buf;
}

}  // namespace

void Trainer::log_step(const StepStats& s, std::optional<double> val_loss) {
  if (opt_.log == nullptr) return;
  const bool due = opt_.log_every > 0 && s.step % opt_.log_every == 0;
  if (!due && !val_loss && s.step != opt_.max_steps) return;
  const double tok_s = s.seconds > 0 ? static_cast<double>(s.tokens) / s.seconds : 0.0;
  const double mfu = 6.0 * static_cast<double>(num_params_) * tok_s / opt_.peak_flops;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double per_step = steps_timed_ > 0 ? elapsed_ / static_cast<double>(steps_timed_) : 0.0;
  char val[32] = "";
  if (val_loss) std::snprintf(val, sizeof val, " | val %.4f", *val_loss);
  char line[320];
  std::snprintf(line, sizeof line,
                "step %lld/%lld | loss %.4f%s | lr %.3e | grad norm %.4f | %.0f tok/s | MFU %.2f%% | "
                "%s elapsed | ETA %s",
                static_cast<long long>(s.step), static_cast<long long>(opt_.max_steps), s.loss, val,
                s.lr, s.grad_norm, tok_s, 100.0 * mfu, duration(wall).c_str(),
                duration(per_step * static_cast<double>(opt_.max_steps - s.step)).c_str());
  *opt_.log << line << std::endl;
}

void Trainer::write_metrics(const StepStats& s, std::optional<double> val_loss) {
  if (opt_.metrics_path.empty()) return;
  const double tok_s = s.seconds > 0 ? static_cast<double>(s.tokens) / s.seconds : 0.0;
  nlohmann::json j = {{"step", s.step},          {"train_loss", s.loss}, {"lr", s.lr},
                      {"grad_norm", s.grad_norm}, {"tokens_per_s", tok_s},
                      {"mfu", 6.0 * static_cast<double>(num_params_) * tok_s / opt_.peak_flops},
                      {"step_s", s.seconds}};
  if (val_loss) j["val_loss"] = *val_loss;
  if (distributed()) {
    j["allreduce_s"] = s.allreduce_seconds;
    j["allreduce_wait_s"] = s.allreduce_wait_seconds;
  }
  std::ofstream out(opt_.metrics_path, std::ios::app);
  out << j.dump() << "\n";
  NABLA_CHECK_IO(out.good(), "train: cannot append to the metrics file ", opt_.metrics_path);
}

}  // namespace nabla::train
