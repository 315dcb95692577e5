// Training checkpoints: one directory with model.safetensors, optimizer.safetensors and
// trainer.json, written to a temporary sibling and swapped in atomically (renameat2
// RENAME_EXCHANGE), so the previous checkpoint stays whole until the new one is complete.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/io_util.h"
#include "nabla/core/error.h"
#include "nabla/core/rng.h"
#include "nabla/io/safetensors.h"
#include "nabla/train/trainer.h"

namespace nabla::train {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFormat = "checkpoint";

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Moves the complete directory tmp to dir. The exchange keeps a whole checkpoint at dir at
// every moment; filesystems without RENAME_EXCHANGE get rename-aside, rename, remove.
void swap_in(const fs::path& tmp, const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::rename(tmp, dir, ec);
    NABLA_CHECK_IO(!ec, "checkpoint: cannot rename ", tmp.string(), " to ", dir.string(), ": ",
                   ec.message());
  } else if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(tmp, ec);  // now the old checkpoint
  } else {
    const fs::path old = dir.string() + ".old";
    fs::remove_all(old, ec);
    fs::rename(dir, old, ec);
    NABLA_CHECK_IO(!ec, "checkpoint: cannot move ", dir.string(), " aside: ", ec.message());
    fs::rename(tmp, dir, ec);
    NABLA_CHECK_IO(!ec, "checkpoint: cannot rename ", tmp.string(), " to ", dir.string(), ": ",
                   ec.message(), " (the previous checkpoint is in ", old.string(), ")");
    fs::remove_all(old, ec);
  }
  fsync_dir(dir.parent_path().empty() ? fs::path(".") : dir.parent_path());
}

std::vector<std::pair<std::string, Tensor>> entries_of(const io::Weights& w) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& e : w.entries()) out.emplace_back(e.name, e.tensor);
  return out;
}

// The checkpoint directory itself, or dir/checkpoint when dir is a training output folder.
fs::path find_checkpoint(const std::string& dir) {
  const fs::path d(dir);
  if (fs::exists(d / "trainer.json")) return d;
  if (fs::exists(d / "checkpoint" / "trainer.json")) return d / "checkpoint";
  io::detail::fail(kFormat, dir, -1, "no trainer.json here or in " + (d / "checkpoint").string(),
                   "pass the checkpoint directory that nabla train wrote (OUT/checkpoint)");
}

}  // namespace

void Trainer::save_checkpoint(const std::string& dir) const {
  if (!is_main_rank()) return;  // the ranks hold the same weights and state
  const fs::path final_dir(dir);
  const fs::path tmp = dir + ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  NABLA_CHECK_IO(!ec, "checkpoint: cannot create ", tmp.string(), ": ", ec.message());
  try {
    if (opt_.save_model) {
      opt_.save_model(tmp.string());
    } else {
      io::save_safetensors((tmp / "model.safetensors").string(), model_.state_dict(),
                           {{"format", "pt"}, {"step", std::to_string(step_)}});
    }
    io::save_safetensors((tmp / "optimizer.safetensors").string(), optimizer_->state_dict());
    const Generator& gen = default_generator();
    const nlohmann::json j = {
        {"format", "nabla-train-checkpoint"}, {"version", 1}, {"step", step_},
        {"generator", {{"seed", gen.seed()}, {"offset", gen.offset()}}},
        // batch_size is the global batch: position counts global batches, whatever the ranks.
        {"train_data", {{"position", train_.position()}, {"batch_size", train_.global_batch_size()},
                        {"block_size", train_.block_size()}, {"tokens", train_.shard().size()}}},
        {"grad_accum", opt_.grad_accum}, {"max_steps", opt_.max_steps},
        {"world_size", train_.world_size()}};
    const std::string text = j.dump(2) + "\n";
    io::detail::AtomicWriter w((tmp / "trainer.json").string(), kFormat);
    w.write(text.data(), text.size());
    w.commit();
    fsync_dir(tmp);
    swap_in(tmp, final_dir);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

void Trainer::resume(const std::string& dir) {
  const fs::path ckpt = find_checkpoint(dir);
  const std::string meta_path = (ckpt / "trainer.json").string();
  std::ifstream in(meta_path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
    NABLA_CHECK_IO(j.at("format") == "nabla-train-checkpoint" && j.at("version") == 1,
                   "checkpoint: ", meta_path, " is not a version-1 nabla training checkpoint");
  } catch (const nlohmann::json::exception& e) {
    io::detail::fail(kFormat, meta_path, -1, std::string("malformed JSON: ") + e.what());
  }
  int64_t step = 0, position = 0, batch = 0, block = 0;
  uint64_t seed = 0, offset = 0;
  try {
    step = j.at("step").get<int64_t>();
    seed = j.at("generator").at("seed").get<uint64_t>();
    offset = j.at("generator").at("offset").get<uint64_t>();
    position = j.at("train_data").at("position").get<int64_t>();
    batch = j.at("train_data").at("batch_size").get<int64_t>();
    block = j.at("train_data").at("block_size").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    io::detail::fail(kFormat, meta_path, -1, std::string("missing or bad field: ") + e.what());
  }
  NABLA_CHECK_IO(step >= 0 && position >= 0, "checkpoint: ", meta_path, " has step ", step,
                 " and data position ", position);
  NABLA_CHECK(batch == train_.global_batch_size() && block == train_.block_size(),
              "resume: the checkpoint was trained with a global batch of ", batch,
              " and block size ", block, ", this run uses ", train_.global_batch_size(), " (",
              train_.world_size(), " rank(s) x ", train_.batch_size(), ") and ",
              train_.block_size(), " (", meta_path, ")\n---> HINT: resume with the same "
              "--block-size and --batch-size x ranks");
  // Both files are read and checked before anything is modified (load_model checks first too).
  const io::Weights opt_w = io::load_safetensors((ckpt / "optimizer.safetensors").string());
  if (opt_.load_model) {
    opt_.load_model(ckpt.string());
  } else {
    const io::Weights model_w = io::load_safetensors((ckpt / "model.safetensors").string());
    model_.load_state_dict(entries_of(model_w), true);
  }
  optimizer_->load_state_dict(entries_of(opt_w));
  default_generator().set_state(seed, offset);  // rank 0's
  seed_rank_generator();
  train_.set_position(position);
  step_ = step;
  last_checkpoint_ = ckpt.string();
}

}  // namespace nabla::train
