// The communicator and the gradient reducer in one process (a world of one, MPI never
// initialised): argument checks, no-op collectives, MPI error messages, bucketing.
// tests/dist/mpirun_test.cpp runs the same collectives on two ranks.
#include "nabla/dist/communicator.h"

#include <mpi.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/dist/data_parallel.h"
#include "nabla/ops/creation.h"

namespace nabla::dist {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// These tests describe a plain run; under mpirun the world is real (mpirun_test.cpp).
class WorldOfOne : public ::testing::Test {
 protected:
  void SetUp() override {
    if (launched_by_mpi()) GTEST_SKIP() << "started by mpirun: the world is not of one";
  }
};

TEST_F(WorldOfOne, HasRankZeroAndNoMpi) {
  Communicator& w = Communicator::world();
  EXPECT_EQ(w.rank(), 0);
  EXPECT_EQ(w.world_size(), 1);
  EXPECT_EQ(w.local_rank(), 0);
  EXPECT_EQ(w.local_world_size(), 1);
  EXPECT_FALSE(w.is_distributed());
  EXPECT_FALSE(Communicator::world_is_distributed());
  int initialized = 1;
  MPI_Initialized(&initialized);
  EXPECT_EQ(initialized, 0);  // a plain run never starts MPI
  w.barrier();
  w.abort(3);  // returns: there is no job to end
}

TEST_F(WorldOfOne, CollectivesLeaveValues) {
  Communicator& w = Communicator::world();
  const Tensor a = tensor({1.5f, -2.0f, 3.25f});
  w.all_reduce(a, ReduceOp::Sum);
  EXPECT_EQ(a.to_vector(), (std::vector<double>{1.5, -2.0, 3.25}));
  const Tensor b = tensor({{1.0, 2.0}, {3.0, 4.0}}, kFloat64);
  w.all_reduce(b, ReduceOp::Avg);  // the mean of one value is itself
  EXPECT_EQ(b.to_vector(), (std::vector<double>{1, 2, 3, 4}));
  const Tensor c = arange(6, kInt64);
  w.broadcast(c, 0);
  EXPECT_EQ(c.to_vector(), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  const Tensor g = w.all_gather(arange(6, kInt64).reshape({3, 2}).t());  // non-contiguous
  EXPECT_EQ(g.shape(), (Shape{2, 3}));
  EXPECT_EQ(g.to_vector(), (std::vector<double>{0, 2, 4, 1, 3, 5}));
  EXPECT_EQ(w.all_gather(zeros({})).shape(), (Shape{1}));
  const Tensor r = w.reduce_scatter(arange(6, kFloat32).reshape({2, 3}).t(), ReduceOp::Avg);
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  EXPECT_EQ(r.to_vector(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  Work work = w.all_reduce_async(a, ReduceOp::Avg);  // complete at once
  EXPECT_TRUE(work.is_completed());
  work.wait();
  EXPECT_EQ(a.to_vector(), (std::vector<double>{1.5, -2.0, 3.25}));
}

TEST_F(WorldOfOne, BadArgumentsThrowAsOnManyRanks) {
  Communicator& w = Communicator::world();
  EXPECT_THAT([&] { w.all_reduce(arange(4, kInt64)); },
              ThrowsMessage<DTypeError>(HasSubstr("all_reduce: expected a f32 or f64 tensor")));
  const Tensor m = zeros({3, 4});
  EXPECT_THAT([&] { w.all_reduce(m.t()); },
              ThrowsMessage<Error>(HasSubstr("all_reduce: expected a contiguous tensor")));
  EXPECT_THAT([&] { w.broadcast(m.t()); },
              ThrowsMessage<Error>(HasSubstr("broadcast: expected a contiguous tensor")));
  EXPECT_THAT([&] { w.broadcast(m, 1); },
              ThrowsMessage<Error>(HasSubstr("src rank 1 is out of range for a world of 1")));
  EXPECT_THAT([&] { (void)w.reduce_scatter(arange(3, kInt64)); },
              ThrowsMessage<DTypeError>(HasSubstr("reduce_scatter: expected a f32 or f64")));
  EXPECT_THAT([&] { (void)w.reduce_scatter(zeros({})); },
              ThrowsMessage<ShapeError>(HasSubstr("does not split into 1 equal blocks")));
  EXPECT_THAT([&] { (void)w.all_reduce_async(arange(4, kInt64)); },
              ThrowsMessage<DTypeError>(HasSubstr("all_reduce_async: expected a f32 or f64")));
  EXPECT_THAT([&] { (void)w.all_reduce_async(m.t()); },
              ThrowsMessage<Error>(HasSubstr("all_reduce_async: expected a contiguous tensor")));
  EXPECT_THAT([&] { w.all_reduce(Tensor()); }, ThrowsMessage<Error>(HasSubstr("undefined")));
  EXPECT_THAT([&] { (void)w.all_gather(Tensor()); },
              ThrowsMessage<Error>(HasSubstr("undefined")));
}

// Without MPI initialised (a plain run) the message has the code; under mpirun it has MPI's
// error string (OnTwoRanks.MpiErrorsBecomeErrors).
TEST_F(WorldOfOne, MpiErrorsNameTheCall) {
  EXPECT_NO_THROW(detail::check_mpi(MPI_SUCCESS, "MPI_Allreduce", 0));
  EXPECT_THAT([] { detail::check_mpi(MPI_ERR_TRUNCATE, "MPI_Bcast", 1); },
              ThrowsMessage<Error>(HasSubstr("MPI_Bcast failed on rank 1: MPI error code " +
                                             std::to_string(MPI_ERR_TRUNCATE))));
}

TEST(GradReducer, BucketsByBytesAndDtype) {
  Communicator& w = Communicator::world();
  const std::vector<Tensor> params = {zeros({10}), zeros({2, 5}), zeros({10}),
                                      zeros({100}), zeros({3}, kFloat64), zeros({3})};
  // 40 + 40 bytes fill an 80-byte bucket; the 400-byte one gets its own; dtype changes split.
  EXPECT_EQ(GradReducer(w, params, 80).num_buckets(), 5);
  EXPECT_EQ(GradReducer(w, params).num_buckets(), 3);  // f32, f64, f32
  EXPECT_THAT([&] { GradReducer(w, {zeros({2}, kBFloat16)}); },
              ThrowsMessage<DTypeError>(HasSubstr("parameter 0 of shape [2] is torch.bfloat16")));
  EXPECT_THAT([&] { GradReducer(w, params, 0); },
              ThrowsMessage<Error>(HasSubstr("bucket_bytes must be positive")));
  // Packed in reverse (the order backward produces them): the last parameters come first.
  const GradReducer r(w, params, 80);
  EXPECT_EQ(r.bucket_params(0), (std::vector<size_t>{5}));
  EXPECT_EQ(r.bucket_params(1), (std::vector<size_t>{4}));
  EXPECT_EQ(r.bucket_params(2), (std::vector<size_t>{3}));
  EXPECT_EQ(r.bucket_params(3), (std::vector<size_t>{2, 1}));
  EXPECT_EQ(r.bucket_params(4), (std::vector<size_t>{0}));
  EXPECT_THAT([&] { (void)r.bucket_params(5); },
              ThrowsMessage<Error>(HasSubstr("bucket 5 is out of range for 5 buckets")));
  // The first bucket holds at most kFirstBucketBytes (1 MiB), the next ones 2 MiB here:
  // 0.5 + 0.5 MiB, then 0.5 + 1 MiB.
  const std::vector<Tensor> big = {zeros({1 << 18}), zeros({1 << 17}), zeros({1 << 17}),
                                   zeros({1 << 17})};
  const GradReducer first(w, big, int64_t{2} << 20);
  ASSERT_EQ(first.num_buckets(), 2);
  EXPECT_EQ(first.bucket_params(0), (std::vector<size_t>{3, 2}));
  EXPECT_EQ(first.bucket_params(1), (std::vector<size_t>{1, 0}));
  EXPECT_THAT([&] { GradReducer(w, {params[0], params[1], params[0]}); },
              ThrowsMessage<Error>(HasSubstr("parameter 2 of shape [10] is in the list twice")));
}

TEST(GradReducer, WorldOfOneLeavesGradientsAlone) {
  Communicator& w = Communicator::world();
  if (w.is_distributed()) GTEST_SKIP() << "started by mpirun";
  const Tensor p = ones({4}).requires_grad_();
  const Tensor q = ones({2}).requires_grad_();
  (p * 3.0).sum().backward();
  GradReducer r(w, {p, q});
  r.prepare_for_backward();
  r.prepare_for_backward();  // no hooks, nothing armed: a world of one has nothing to average
  r.all_reduce_grads();
  EXPECT_EQ(p.grad().to_vector(), (std::vector<double>{3, 3, 3, 3}));
  EXPECT_FALSE(q.grad().defined());  // no gradient is made up
  broadcast_tensors(w, {p, q});
  EXPECT_EQ(p.to_vector(), (std::vector<double>{1, 1, 1, 1}));
}

}  // namespace
}  // namespace nabla::dist
