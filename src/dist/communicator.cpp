// Communicator over MPI's C API: lazy initialisation under a launcher, a world of one
// without, collectives split into chunks that fit MPI's int counts.
#include "nabla/dist/communicator.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "nabla/core/error.h"
#include "nabla/core/threads.h"

namespace nabla::dist {
namespace {

// MPI counts are ints: larger buffers go in chunks of 2^30 elements.
constexpr int64_t kMaxCount = int64_t{1} << 30;

void check_contiguous(const char* op, const Tensor& t) {
  NABLA_CHECK(t.defined(), op, ": the tensor is undefined");
  NABLA_CHECK(t.is_contiguous(), op, ": expected a contiguous tensor, got shape ", t.shape(),
              " with strides ", t.strides(), "\n---> HINT: call .contiguous() first");
}

template <typename T>
void divide(T* p, int64_t n, T d) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) p[i] /= d;
}

// The sum of world_size values -> their mean, in place (a division, as one process would
// compute a mean, not a multiplication by a rounded 1 / world_size).
void sum_to_mean(const Tensor& t, int world_size) {
  if (t.dtype() == DType::F32) divide(t.data<float>(), t.numel(), static_cast<float>(world_size));
  else divide(t.data<double>(), t.numel(), static_cast<double>(world_size));
}

}  // namespace

struct Communicator::Mpi {
  MPI_Comm comm = MPI_COMM_NULL;
};

namespace detail {
void check_mpi(int code, const char* call, int rank) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0, initialized = 0;
  MPI_Initialized(&initialized);
  // Before MPI_Init, Open MPI aborts the process on any call but a few: only the code then.
  if (initialized == 0 || MPI_Error_string(code, text, &len) != MPI_SUCCESS) {
    std::snprintf(text, sizeof text, "MPI error code %d", code);
  }
  throw Error(nabla::detail::concat(call, " failed on rank ", rank, ": ", text));
}
}  // namespace detail

void share_cores(const Communicator& comm) {
  if (!comm.is_distributed() || std::getenv("OMP_NUM_THREADS") != nullptr) return;
  const int per_rank =
      static_cast<int>(std::thread::hardware_concurrency()) / comm.local_world_size();
  set_num_threads(std::max(1, std::min(get_num_threads(), per_rank)));
}

bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (std::getenv(var) != nullptr) return true;
  }
  return false;
}

namespace {
Communicator* g_world = nullptr;  // set once world() has built it
}  // namespace

Communicator& Communicator::world() {
  static Communicator w;
  g_world = &w;
  return w;
}

bool Communicator::world_is_distributed() {
  return g_world != nullptr && g_world->is_distributed();
}

Communicator::Communicator() {
  if (launched_by_mpi()) init_mpi();
}

void Communicator::init_mpi() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized == 0) {
    int provided = 0;
    // Errors before MPI exists cannot return: MPI_Init aborts the job on failure.
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    owns_mpi_ = true;
  }
  mpi_ = std::make_unique<Mpi>();
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  // A duplicate keeps nabla's messages apart from any the program sends itself.
  detail::check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &mpi_->comm), "MPI_Comm_dup", 0);
  detail::check_mpi(MPI_Comm_set_errhandler(mpi_->comm, MPI_ERRORS_RETURN),
                    "MPI_Comm_set_errhandler", 0);
  detail::check_mpi(MPI_Comm_rank(mpi_->comm, &rank_), "MPI_Comm_rank", 0);
  detail::check_mpi(MPI_Comm_size(mpi_->comm, &world_size_), "MPI_Comm_size", rank_);
  MPI_Comm node = MPI_COMM_NULL;
  detail::check_mpi(
      MPI_Comm_split_type(mpi_->comm, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
      "MPI_Comm_split_type", rank_);
  detail::check_mpi(MPI_Comm_rank(node, &local_rank_), "MPI_Comm_rank", rank_);
  detail::check_mpi(MPI_Comm_size(node, &local_world_size_), "MPI_Comm_size", rank_);
  MPI_Comm_free(&node);
}

Communicator::~Communicator() {
  if (mpi_ == nullptr) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized != 0) return;
  MPI_Comm_free(&mpi_->comm);
  if (owns_mpi_) MPI_Finalize();
}

void Communicator::all_reduce(const Tensor& tensor, ReduceOp op) {
  check_contiguous("all_reduce", tensor);
  const DType dt = tensor.dtype();
  NABLA_CHECK_DTYPE(dt == DType::F32 || dt == DType::F64,
                    "all_reduce: expected a f32 or f64 tensor, got ", dt);
  if (!is_distributed()) return;
  const MPI_Datatype type = dt == DType::F32 ? MPI_FLOAT : MPI_DOUBLE;
  char* p = static_cast<char*>(tensor.raw_data());
  const int64_t n = tensor.numel(), es = static_cast<int64_t>(tensor.element_size());
  for (int64_t i = 0; i < n; i += kMaxCount) {
    const int count = static_cast<int>(std::min(kMaxCount, n - i));
    detail::check_mpi(
        MPI_Allreduce(MPI_IN_PLACE, p + i * es, count, type, MPI_SUM, mpi_->comm),
        "MPI_Allreduce", rank_);
  }
  if (op == ReduceOp::Avg) sum_to_mean(tensor, world_size_);
  tensor.storage()->bump_version();
}

struct Work::Requests {
  std::vector<MPI_Request> requests;
  Tensor tensor;  // kept alive until the requests complete
  ReduceOp op = ReduceOp::Sum;
  int world_size = 1, rank = 0;
  bool done = false;

  Requests() = default;
  Requests(const Requests&) = delete;
  Requests& operator=(const Requests&) = delete;
  // MPI may still write into tensor: it is freed only after the requests end. Errors cannot
  // be reported from here; a failed job is ended by the launcher or by main's MPI_Abort.
  ~Requests() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!done && finalized == 0) {
      MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE);
    }
  }
};

Work::Work() = default;
Work::Work(Work&&) noexcept = default;
Work& Work::operator=(Work&&) noexcept = default;
Work::~Work() = default;

bool Work::is_completed() {
  if (req_ == nullptr || req_->done) return true;
  int flag = 0;
  const int code = MPI_Testall(static_cast<int>(req_->requests.size()), req_->requests.data(),
                               &flag, MPI_STATUSES_IGNORE);
  if (code != MPI_SUCCESS) req_->done = true;  // the requests are no longer active
  detail::check_mpi(code, "MPI_Testall (all_reduce_async)", req_->rank);
  if (flag != 0) finish();
  return flag != 0;
}

void Work::wait() {
  if (req_ == nullptr || req_->done) return;
  const int code = MPI_Waitall(static_cast<int>(req_->requests.size()), req_->requests.data(),
                               MPI_STATUSES_IGNORE);
  if (code != MPI_SUCCESS) req_->done = true;
  detail::check_mpi(code, "MPI_Waitall (all_reduce_async)", req_->rank);
  finish();
}

void Work::finish() {
  req_->done = true;
  if (req_->op == ReduceOp::Avg) sum_to_mean(req_->tensor, req_->world_size);
  req_->tensor.storage()->bump_version();
}

Work Communicator::all_reduce_async(const Tensor& tensor, ReduceOp op) {
  check_contiguous("all_reduce_async", tensor);
  const DType dt = tensor.dtype();
  NABLA_CHECK_DTYPE(dt == DType::F32 || dt == DType::F64,
                    "all_reduce_async: expected a f32 or f64 tensor, got ", dt);
  Work work;
  if (!is_distributed()) return work;
  work.req_ = std::make_unique<Work::Requests>();
  Work::Requests& r = *work.req_;
  r.tensor = tensor;
  r.op = op;
  r.world_size = world_size_;
  r.rank = rank_;
  const MPI_Datatype type = dt == DType::F32 ? MPI_FLOAT : MPI_DOUBLE;
  char* p = static_cast<char*>(tensor.raw_data());
  const int64_t n = tensor.numel(), es = static_cast<int64_t>(tensor.element_size());
  for (int64_t i = 0; i < n; i += kMaxCount) {
    const int count = static_cast<int>(std::min(kMaxCount, n - i));
    MPI_Request req = MPI_REQUEST_NULL;
    const int code =
        MPI_Iallreduce(MPI_IN_PLACE, p + i * es, count, type, MPI_SUM, mpi_->comm, &req);
    // On failure the chunks already started are waited for when work is destroyed.
    detail::check_mpi(code, "MPI_Iallreduce", rank_);
    r.requests.push_back(req);
  }
  return work;
}

void Communicator::broadcast(const Tensor& tensor, int src) {
  check_contiguous("broadcast", tensor);
  NABLA_CHECK(src >= 0 && src < world_size_, "broadcast: src rank ", src,
              " is out of range for a world of ", world_size_);
  if (!is_distributed()) return;
  char* p = static_cast<char*>(tensor.raw_data());
  const auto n = static_cast<int64_t>(tensor.nbytes());
  for (int64_t i = 0; i < n; i += kMaxCount) {
    const int count = static_cast<int>(std::min(kMaxCount, n - i));
    detail::check_mpi(MPI_Bcast(p + i, count, MPI_BYTE, src, mpi_->comm), "MPI_Bcast", rank_);
  }
  tensor.storage()->bump_version();
}

Tensor Communicator::all_gather(const Tensor& tensor) {
  NABLA_CHECK(tensor.defined(), "all_gather: the tensor is undefined");
  const Tensor src = tensor.contiguous();
  Shape shape = src.shape();
  if (shape.empty()) shape.push_back(1);
  shape[0] *= world_size_;
  Tensor out = Tensor::empty(shape, src.dtype());
  const auto n = static_cast<int64_t>(src.nbytes());
  if (!is_distributed()) {
    if (n > 0) std::memcpy(out.raw_data(), src.raw_data(), static_cast<size_t>(n));
    return out;
  }
  NABLA_CHECK(n <= INT_MAX, "all_gather: ", n, " bytes per rank is more than MPI_Allgather's ",
              INT_MAX, " (shape ", src.shape(), ")");
  detail::check_mpi(MPI_Allgather(src.raw_data(), static_cast<int>(n), MPI_BYTE, out.raw_data(),
                                  static_cast<int>(n), MPI_BYTE, mpi_->comm),
                    "MPI_Allgather", rank_);
  return out;
}

Tensor Communicator::reduce_scatter(const Tensor& input, ReduceOp op) {
  NABLA_CHECK(input.defined(), "reduce_scatter: the tensor is undefined");
  const DType dt = input.dtype();
  NABLA_CHECK_DTYPE(dt == DType::F32 || dt == DType::F64,
                    "reduce_scatter: expected a f32 or f64 tensor, got ", dt);
  NABLA_CHECK_SHAPE(input.dim() > 0 && input.size(0) % world_size_ == 0,
                    "reduce_scatter: dim 0 of ", input.shape(), " does not split into ",
                    world_size_, " equal blocks");
  const Tensor src = input.contiguous();
  Shape shape = src.shape();
  shape[0] /= world_size_;
  Tensor out = Tensor::empty(shape, dt);
  const int64_t n = out.numel();
  if (!is_distributed()) {
    out.copy_(src);
    return out;
  }
  NABLA_CHECK(n <= INT_MAX, "reduce_scatter: ", n, " elements per rank is more than ",
              "MPI_Reduce_scatter_block's ", INT_MAX, " (shape ", src.shape(), ")");
  detail::check_mpi(MPI_Reduce_scatter_block(src.raw_data(), out.raw_data(), static_cast<int>(n),
                                             dt == DType::F32 ? MPI_FLOAT : MPI_DOUBLE, MPI_SUM,
                                             mpi_->comm),
                    "MPI_Reduce_scatter_block", rank_);
  if (op == ReduceOp::Avg) sum_to_mean(out, world_size_);
  return out;
}

void Communicator::barrier() {
  if (!is_distributed()) return;
  detail::check_mpi(MPI_Barrier(mpi_->comm), "MPI_Barrier", rank_);
}

void Communicator::abort(int code) {
  if (!is_distributed()) return;
  MPI_Abort(mpi_->comm, code);
}

}  // namespace nabla::dist
