// Collectives and gradient averaging on two real ranks. DistMpirun.CollectivesOnTwoRanks
// starts this binary under `mpirun -np 2` with --gtest_filter=OnTwoRanks.*; in a plain run
// the OnTwoRanks tests skip.
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/dist/communicator.h"
#include "nabla/dist/data_parallel.h"
#include "nabla/core/rng.h"
#include "nabla/ops/creation.h"
#include "tests/dist/mpirun_util.h"

namespace nabla::dist {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class OnTwoRanks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!launched_by_mpi() || Communicator::world().world_size() != 2) {
      GTEST_SKIP() << "runs under mpirun -np 2 (DistMpirun.CollectivesOnTwoRanks starts it)";
    }
  }
  Communicator& w = Communicator::world();
  const int rank = launched_by_mpi() ? Communicator::world().rank() : 0;
};

TEST_F(OnTwoRanks, RanksAreDistinctAndLocal) {
  EXPECT_TRUE(w.is_distributed());
  EXPECT_TRUE(Communicator::world_is_distributed());
  EXPECT_EQ(w.local_rank(), w.rank());  // one machine
  EXPECT_EQ(w.local_world_size(), 2);
  const Tensor ranks = w.all_gather(full({}, w.rank(), kInt64));
  EXPECT_EQ(ranks.to_vector(), (std::vector<double>{0, 1}));
  w.barrier();
}

TEST_F(OnTwoRanks, AllReduceSumsAndAverages) {
  const int64_t n = 1001;  // odd, more than one cache line
  const Tensor a = arange(n, kFloat32) + 1000.0 * rank;
  w.all_reduce(a, ReduceOp::Sum);
  const Tensor b = arange(n, kFloat64) * (rank + 1);
  w.all_reduce(b, ReduceOp::Avg);
  for (int64_t i = 0; i < n; i += 97) {
    EXPECT_EQ(a.at({i}), 1000.0 + 2.0 * static_cast<double>(i));  // i + (i + 1000)
    EXPECT_EQ(b.at({i}), 1.5 * static_cast<double>(i));           // (i + 2i) / 2
  }
}

TEST_F(OnTwoRanks, BroadcastCopiesTheSourceRank) {
  const Tensor a = arange(5, kInt64) * (rank + 1);
  w.broadcast(a, 1);
  EXPECT_EQ(a.to_vector(), (std::vector<double>{0, 2, 4, 6, 8}));
  const Tensor b = full({2, 3}, 10.0 * rank + 1.0);
  w.broadcast(b, 0);
  EXPECT_EQ(b.to_vector(), std::vector<double>(6, 1.0));
  Tensor c = zeros({3, 2});
  c.fill_(rank);
  broadcast_tensors(w, {c.t()}, 0);  // a non-contiguous view is written through
  EXPECT_EQ(c.to_vector(), std::vector<double>(6, 0.0));
}

TEST_F(OnTwoRanks, AllGatherConcatenatesInRankOrder) {
  const Tensor mine = arange(6, kFloat32).reshape({2, 3}) + 10.0 * rank;
  const Tensor all = w.all_gather(mine);
  ASSERT_EQ(all.shape(), (Shape{4, 3}));
  EXPECT_EQ(all.to_vector(),
            (std::vector<double>{0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15}));
}

TEST_F(OnTwoRanks, GradReducerAveragesEveryBucket) {
  const Tensor p = zeros({5}).requires_grad_();
  const Tensor q = zeros({3}, kFloat64).requires_grad_();
  const Tensor r = zeros({2}).requires_grad_();
  (p * (rank + 1.0)).sum().backward();  // grad 1 on rank 0, 2 on rank 1
  (q * (4.0 * rank)).sum().backward();
  if (rank == 0) (r * 4.0).sum().backward();  // rank 1 has no gradient for r
  GradReducer reducer(w, {p, q, r}, 16);      // 16 bytes: one bucket per parameter
  EXPECT_EQ(reducer.num_buckets(), 3);
  reducer.all_reduce_grads();
  EXPECT_EQ(p.grad().to_vector(), std::vector<double>(5, 1.5));
  EXPECT_EQ(q.grad().to_vector(), std::vector<double>(3, 2.0));
  ASSERT_TRUE(r.grad().defined());
  EXPECT_EQ(r.grad().to_vector(), std::vector<double>(2, 2.0));
  EXPECT_GE(reducer.seconds(), 0.0);
}

TEST_F(OnTwoRanks, AllReduceAsyncEqualsAllReduce) {
  Generator gen(11 + static_cast<uint64_t>(rank));
  const Tensor a = randn({1001}, kFloat32, &gen), b = a.clone();
  Work work = w.all_reduce_async(a, ReduceOp::Avg);
  w.all_reduce(b, ReduceOp::Avg);  // blocking collectives may run while one is in flight
  while (!work.is_completed()) {
  }
  work.wait();  // again: a no-op
  EXPECT_EQ(a.to_vector(), b.to_vector());  // bit for bit
}

// A two-layer network whose gradients differ by rank, plus a parameter backward never
// reaches: the parameters (and their bucket-mates) get rank-averaged gradients.
struct TinyNet {
  Tensor w1, b1, w2, b2, unused;
  explicit TinyNet(uint64_t seed) {
    Generator gen(seed);
    w1 = randn({8, 16}, kFloat32, &gen).requires_grad_();
    b1 = randn({16}, kFloat32, &gen).requires_grad_();
    w2 = randn({16, 4}, kFloat32, &gen).requires_grad_();
    b2 = randn({4}, kFloat32, &gen).requires_grad_();
    unused = randn({3}, kFloat32, &gen).requires_grad_();
  }
  std::vector<Tensor> params() const { return {w1, b1, unused, w2, b2}; }
  void backward(int rank) const {
    Generator gen(100 + static_cast<uint64_t>(rank));
    const Tensor x = randn({5, 8}, kFloat32, &gen);
    ((x.matmul(w1) + b1).tanh().matmul(w2) + b2).pow(2).mean().backward();
  }
};

// Buckets started by the hooks during backward give the same bits as buckets all started
// after it, with one bucket per parameter and with everything in one bucket.
TEST_F(OnTwoRanks, OverlappedReducerEqualsBlocking) {
  for (const int64_t bucket_bytes : {int64_t{64}, kDefaultBucketBytes}) {
    const TinyNet blocking(3), overlapped(3);
    GradReducer a(w, blocking.params(), bucket_bytes), b(w, overlapped.params(), bucket_bytes);
    blocking.backward(rank);
    a.all_reduce_grads();
    b.prepare_for_backward();
    overlapped.backward(rank);
    b.all_reduce_grads();
    for (size_t i = 0; i < blocking.params().size(); ++i) {
      EXPECT_EQ(blocking.params()[i].grad().to_vector(), overlapped.params()[i].grad().to_vector())
          << "parameter " << i << ", bucket_bytes " << bucket_bytes;
    }
    EXPECT_EQ(overlapped.unused.grad().to_vector(), std::vector<double>(3, 0.0));
    EXPECT_GE(b.seconds(), b.wait_seconds());
    // Hooks are ignored outside prepare_for_backward ... all_reduce_grads.
    overlapped.backward(rank);
  }
}

TEST_F(OnTwoRanks, ReducerMisuseIsAnError) {
  const TinyNet net(5);
  GradReducer r(w, net.params(), 64);
  r.prepare_for_backward();
  EXPECT_THAT([&] { r.prepare_for_backward(); },
              ::testing::ThrowsMessage<Error>(HasSubstr("called twice without all_reduce_grads")));
  net.backward(rank);
  EXPECT_THAT([&] { net.backward(rank); },
              ::testing::ThrowsMessage<Error>(HasSubstr("became ready twice")));
  r.all_reduce_grads();  // both ranks started the same buckets: they complete together
}

TEST_F(OnTwoRanks, ReduceScatterGivesEachRankItsBlock) {
  const Tensor in = arange(8, kFloat32).reshape({4, 2}) * (rank + 1.0);  // summed: 3x
  const Tensor out = w.reduce_scatter(in, ReduceOp::Sum);
  ASSERT_EQ(out.shape(), (Shape{2, 2}));
  const double first = 4.0 * rank;  // rank r gets rows 2r, 2r + 1
  EXPECT_EQ(out.to_vector(), (std::vector<double>{3 * first, 3 * (first + 1), 3 * (first + 2),
                                                  3 * (first + 3)}));
  const Tensor avg = w.reduce_scatter(arange(4, kFloat64) * (rank + 1.0), ReduceOp::Avg);
  EXPECT_EQ(avg.to_vector(), (std::vector<double>{1.5 * 2 * rank, 1.5 * (2 * rank + 1)}));
}

// A collective called with different sizes on the two ranks: the rank that receives too
// much gets MPI's error as a nabla::Error naming the call, not an abort (MPI_ERRORS_RETURN).
TEST_F(OnTwoRanks, MpiErrorsBecomeErrors) {
  const Tensor t = zeros({rank == 0 ? 64 : 8});
  if (rank == 0) {
    w.broadcast(t, 0);
  } else {
    EXPECT_THAT([&] { w.broadcast(t, 0); },
                ::testing::ThrowsMessage<Error>(HasSubstr("MPI_Bcast failed on rank 1: MPI_ERR_TRUNCATE")));
  }
}

TEST(DistMpirun, CollectivesOnTwoRanks) {
  if (launched_by_mpi()) GTEST_SKIP() << "already under mpirun";
  if (!testing::have_mpirun()) GTEST_SKIP() << "mpirun is not installed (apt install openmpi-bin)";
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const testing::MpiRun r =
      testing::mpirun(2, self + " --gtest_color=no --gtest_filter='OnTwoRanks.*'", 60);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("[  PASSED  ] 10 tests."));
  EXPECT_THAT(r.out, Not(HasSubstr("SKIPPED")));
}

}  // namespace
}  // namespace nabla::dist
