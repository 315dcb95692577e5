// embedding: gather reference, repeated indices in backward, padding_idx, int32 indices,
// gradcheck, PyTorch fixture, range errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/core/threads.h"
#include "nabla/ops/ops.h"
#include "tests/ops/nn_test_helpers.h"
#include "tests/testing/fixture.h"
#include "tests/testing/gradcheck.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using testing::gradcheck;
using testing::random_input;

TEST(Embedding, GathersRowsForAnyIndexShape) {
  const Tensor w = random_input({7, 3}, 1, -1, 1, false);
  const Tensor idx = tensor({{6, 0}, {2, 2}, {5, 1}});  // (3, 2) int64
  const Tensor y = embedding(idx, w);
  ASSERT_EQ(y.shape(), (Shape{3, 2, 3}));
  const auto wv = w.to_vector(), iv = idx.to_vector(), yv = y.to_vector();
  for (size_t n = 0; n < iv.size(); ++n) {
    for (size_t c = 0; c < 3; ++c) {
      EXPECT_EQ(yv[n * 3 + c], wv[static_cast<size_t>(iv[n]) * 3 + c]);
    }
  }
  EXPECT_TRUE(testing::all_close(embedding(idx.to(kInt32), w), y, 0, 0));  // int32 indices
}

TEST(Embedding, NonContiguousWeightAndIndices) {
  const Tensor wt = random_input({4, 9}, 2, -1, 1, false);
  const Tensor w = wt.t();  // (9, 4) non-contiguous
  const Tensor idx = tensor({{1, 8, 3}, {0, 0, 7}}).t();  // (3, 2) non-contiguous
  const Tensor y = embedding(idx, w);
  const auto iv = idx.to_vector(), yv = y.to_vector();
  for (size_t n = 0; n < iv.size(); ++n) {
    for (int64_t c = 0; c < 4; ++c) {
      EXPECT_EQ(yv[n * 4 + static_cast<size_t>(c)], w.at({static_cast<int64_t>(iv[n]), c}));
    }
  }
}

TEST(Embedding, BackwardSumsRepeatedIndices) {
  const Tensor w = testing::leaf(zeros({5, 2}), kFloat64);
  const Tensor idx = tensor({3, 1, 3, 3, 0});
  const Tensor dy = random_input({5, 2}, 3, -1, 1, false);
  embedding(idx, w).backward(dy);
  std::vector<double> ref(10, 0.0);
  const auto iv = idx.to_vector(), dv = dy.to_vector();
  for (size_t n = 0; n < 5; ++n) {
    for (size_t c = 0; c < 2; ++c) ref[static_cast<size_t>(iv[n]) * 2 + c] += dv[n * 2 + c];
  }
  EXPECT_TRUE(testing::vectors_near(w.grad().to_vector(), ref, 1e-15, 1e-15));
}

TEST(Embedding, Gradcheck) {
  const Tensor idx = tensor({{2, 0, 2}, {4, 1, 2}});
  EXPECT_TRUE(gradcheck("embedding",
                        [&](const std::vector<Tensor>& in) { return embedding(idx, in[0]); },
                        {random_input({5, 3}, 4)}));
  EXPECT_TRUE(gradcheck("embedding",
                        [&](const std::vector<Tensor>& in) { return embedding(idx, in[0].t()); },
                        {random_input({3, 5}, 5)}));
}

TEST(Embedding, MatchesPyTorchWithPaddingIdx) {
  const auto fx = testing::load_fixture("nn_embedding");
  Tensor w = testing::leaf(fx["w"], kFloat32);
  const Tensor y = embedding(fx["idx"], w);
  EXPECT_TRUE(testing::all_close(y, fx["out"], 0, 0));
  y.backward(fx["dy"]);
  EXPECT_TRUE(testing::all_close(w.grad(), fx["dw"], 1e-6, 1e-6));
  w = testing::leaf(fx["w"], kFloat32);
  embedding(fx["idx"], w, 3).backward(fx["dy"]);
  EXPECT_TRUE(testing::all_close(w.grad(), fx["dw_pad3"], 1e-6, 1e-6));
  w = testing::leaf(fx["w"], kFloat32);
  embedding(fx["idx"], w, -7).backward(fx["dy"]);  // -7 wraps to 3 for 10 rows
  EXPECT_TRUE(testing::all_close(w.grad(), fx["dw_pad3"], 1e-6, 1e-6));
}

TEST(Embedding, BackwardIsDeterministicAcrossThreadCounts) {
  const Tensor idx = randint(0, 50, {4096}, kInt64);
  const Tensor dy = randn({4096, 24});
  auto grad_with_threads = [&](int n) {
    const int prev = get_num_threads();
    set_num_threads(n);
    const Tensor w = testing::leaf(zeros({50, 24}), kFloat32);
    embedding(idx, w).backward(dy);
    set_num_threads(prev);
    return w.grad().to_vector();
  };
  EXPECT_EQ(grad_with_threads(1), grad_with_threads(2));
}

TEST(Embedding, IndexOutOfRangeNamesIndexAndVocab) {
  const Tensor w = random_input({10, 4}, 6, -1, 1, false);
  EXPECT_THAT([&] { embedding(tensor({1, 10}), w); },
              ::testing::ThrowsMessage<ShapeError>(
                  HasSubstr("embedding: index 10 is out of range for vocab size 10")));
  EXPECT_THAT([&] { embedding(tensor({-1}), w); },
              ::testing::ThrowsMessage<ShapeError>(HasSubstr("index -1")));
  EXPECT_THAT([&] { embedding(tensor({1.0, 2.0}), w); },
              ::testing::ThrowsMessage<DTypeError>(HasSubstr("int64 or int32")));
}

}  // namespace
}  // namespace nabla
