// What `nabla train` and `nabla finetune` share to train data parallel under `mpirun -np N`:
// the job's ranks and their threads, loaders over each rank's slice of every global batch,
// and rank 0 as the one rank that prints and writes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>

#include "nabla/core/threads.h"
#include "nabla/data/loader.h"
#include "nabla/dist/communicator.h"
#include "nabla/train/trainer.h"

namespace nabla::cli {

/// The job's world (one process without a launcher), with `threads` OpenMP threads per rank
/// when positive; otherwise the ranks of a machine share its cores.
inline dist::Communicator& start_ranks(int64_t threads) {
  if (threads > 0) set_num_threads(static_cast<int>(threads));
  dist::Communicator& comm = dist::Communicator::world();
  if (threads == 0) dist::share_cores(comm);
  return comm;
}

/// DIR/split.bin as this rank's loader: batch rows of each global batch of world_size x
/// batch rows, so that N ranks see the batches of one process with N times the batch.
inline data::TokenLoader open_rank_loader(
    const std::string& dir, const char* split, int64_t batch, int64_t block, data::Sampling s,
    uint64_t seed, const dist::Communicator& comm) {
  const std::string path = (std::filesystem::path(dir) / (std::string(split) + ".bin")).string();
  data::TokenLoader loader(data::Shard::open(path), batch, block, s, seed);
  loader.distribute(comm.rank(), comm.world_size());
  return loader;
}

/// Trains over comm's ranks, with progress lines to out on rank 0 only.
inline void train_on_ranks(train::TrainOptions& t, dist::Communicator& comm, std::ostream& out) {
  t.comm = &comm;
  t.log = comm.rank() == 0 ? &out : nullptr;
}

}  // namespace nabla::cli
