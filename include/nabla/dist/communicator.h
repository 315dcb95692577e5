// The process group of a job started by mpirun (torch.distributed's default group): rank,
// world size, local rank and collectives on tensors, over MPI. A process started without a
// launcher is a world of one: MPI is never initialised and every collective is a no-op that
// still checks its arguments, so code behaves the same on 1 and on N ranks.
#pragma once

#include <memory>
#include <string>

#include "nabla/core/tensor.h"

namespace nabla::dist {

/// torch.distributed.ReduceOp: SUM, AVG (the sum divided by the world size).
enum class ReduceOp { Sum, Avg };

/// A collective in flight (torch.distributed's Work): the tensor it writes must stay alive and
/// untouched until wait() returns. MPI progresses it only inside MPI calls, so a caller that
/// computes meanwhile calls is_completed() now and then. Destroying unfinished work waits for
/// it (ignoring errors), as the buffer may not be freed under MPI.
class Work {
 public:
  Work();  ///< completed work (what a world of one returns)
  Work(Work&&) noexcept;
  Work& operator=(Work&&) noexcept;
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;
  ~Work();

  /// Whether the collective has completed; drives MPI's progress. Throws like wait().
  bool is_completed();
  /// Blocks until the collective completes, then finishes it (ReduceOp::Avg divides). Throws
  /// nabla::Error naming the MPI call, the error and the rank on failure. Idempotent.
  void wait();

 private:
  friend class Communicator;
  struct Requests;  // the MPI_Requests, so that this header needs no <mpi.h>
  void finish();
  std::unique_ptr<Requests> req_;
};

/// One MPI communicator. Every MPI error throws nabla::Error naming the MPI call, the error
/// string and this rank (errors return instead of aborting: MPI_ERRORS_RETURN). Collectives
/// must be called by every rank in the same order with tensors of the same shape and dtype.
class Communicator {
 public:
  /// The job's world. The first call initialises MPI (thread level FUNNELED: only the main
  /// thread talks to MPI, OpenMP threads compute) when the process was started by a launcher
  /// (mpirun/mpiexec, srun); otherwise it is a world of one and MPI is never touched, so a
  /// plain run pays nothing. MPI is finalised at exit.
  static Communicator& world();
  /// Whether world() has been created and spans more than one process, without creating it.
  static bool world_is_distributed();

  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  ~Communicator();

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  /// The rank among the processes on this machine (for pinning threads or devices).
  int local_rank() const { return local_rank_; }
  /// How many ranks run on this machine.
  int local_world_size() const { return local_world_size_; }
  bool is_distributed() const { return world_size_ > 1; }

  /// Reduces tensor across ranks in place; every rank gets the result. f32 or f64, contiguous.
  void all_reduce(const Tensor& tensor, ReduceOp op = ReduceOp::Sum);
  /// all_reduce without blocking (dist.all_reduce(async_op=True), MPI_Iallreduce): the same
  /// checks and result (element by element the same sums), complete once the Work is waited
  /// for. Collectives, blocking or not, start in the same order on every rank.
  Work all_reduce_async(const Tensor& tensor, ReduceOp op = ReduceOp::Sum);
  /// Copies src's tensor into tensor on every other rank, in place. Any dtype, contiguous.
  void broadcast(const Tensor& tensor, int src = 0);
  /// The tensors of all ranks concatenated along dim 0 in rank order:
  /// (S0, ...) -> (world_size * S0, ...); a 0-dim tensor gives (world_size).
  /// torch.distributed.all_gather_into_tensor. Any dtype.
  Tensor all_gather(const Tensor& tensor);
  /// Reduces input across ranks and gives each rank its block of the result along dim 0:
  /// (world_size * S0, ...) -> (S0, ...), rank r getting rows [r * S0, (r + 1) * S0).
  /// torch.distributed.reduce_scatter_tensor. f32 or f64.
  Tensor reduce_scatter(const Tensor& input, ReduceOp op = ReduceOp::Sum);
  /// Returns once every rank has called it.
  void barrier();
  /// Ends every process of the job with exit code (MPI_Abort); a world of one returns
  /// normally. For the program's top level: a rank that fails alone would otherwise leave
  /// the others waiting in their next collective.
  void abort(int code);

 private:
  Communicator();
  void init_mpi();

  int rank_ = 0;
  int world_size_ = 1;
  int local_rank_ = 0;
  int local_world_size_ = 1;
  bool owns_mpi_ = false;  // this object called MPI_Init and so calls MPI_Finalize
  struct Mpi;              // holds the MPI_Comm, so that this header needs no <mpi.h>
  std::unique_ptr<Mpi> mpi_;  // null: a world of one
};

/// Under a launcher, without OMP_NUM_THREADS set, lowers this rank's thread count to its
/// share of the machine's cores (hardware threads / local_world_size): otherwise each rank
/// starts a thread per core and the ranks of a machine fight over them (torchrun sets
/// OMP_NUM_THREADS=1 for the same reason). A world of one is left alone.
void share_cores(const Communicator& comm);

/// Whether the environment says a launcher started this process (Open MPI's mpirun sets
/// OMPI_COMM_WORLD_SIZE, MPICH's hydra PMI_SIZE, PMIx launchers PMIX_RANK).
bool launched_by_mpi();

namespace detail {
/// Throws nabla::Error "<call> failed on rank R: <MPI error string>" unless code is
/// MPI_SUCCESS.
void check_mpi(int code, const char* call, int rank);
}  // namespace detail

}  // namespace nabla::dist
