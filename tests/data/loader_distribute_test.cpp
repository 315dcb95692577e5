// TokenLoader::distribute: N loaders with batch B yield, row for row, the batches of one
// loader with batch N * B (data-parallel training depends on it), and keep one position.
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/core/error.h"
#include "nabla/data/loader.h"
#include "tests/tokenizers/helpers.h"

namespace nabla::data {
namespace {

using ::testing::HasSubstr;
using tokenizers::testing::TempDir;

Shard ramp(const TempDir& dir) {
  std::vector<int32_t> t(700);
  for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<int32_t>(i % 500);
  write_shard(dir.file("ramp.bin"), t, 500);
  return Shard::open(dir.file("ramp.bin"));
}

std::vector<int64_t> values(const Tensor& t) {
  return {t.data<int64_t>(), t.data<int64_t>() + t.numel()};
}

void expect_slices_of_global(Sampling sampling) {
  TempDir dir("loader_dist");
  const Shard shard = ramp(dir);
  TokenLoader whole(shard, 6, 8, sampling, 7);
  std::vector<TokenLoader> parts;
  for (int r = 0; r < 3; ++r) {
    parts.emplace_back(shard, 2, 8, sampling, 7);
    parts.back().distribute(r, 3);
  }
  EXPECT_EQ(parts[1].global_batch_size(), 6);
  EXPECT_EQ(parts[1].num_batches(), whole.num_batches());
  for (int k = 0; k < 12; ++k) {  // sequential: past the wrap (700 / 8 / 6 < 12)
    const std::vector<int64_t> want = values(whole.next());
    std::vector<int64_t> got;
    for (TokenLoader& p : parts) {
      const auto v = values(p.next());
      got.insert(got.end(), v.begin(), v.end());
    }
    ASSERT_EQ(got, want) << "batch " << k;
  }
  whole.set_position(40);
  parts[2].set_position(40);  // positions count global batches on every rank
  const auto w = values(whole.next()), p = values(parts[2].next());
  EXPECT_EQ(p, std::vector<int64_t>(w.begin() + 4 * 9, w.end()));
}

TEST(TokenLoaderDistribute, RandomRanksSliceTheGlobalBatch) {
  expect_slices_of_global(Sampling::Random);
}

TEST(TokenLoaderDistribute, SequentialRanksSliceTheGlobalBatch) {
  expect_slices_of_global(Sampling::Sequential);
}

TEST(TokenLoaderDistribute, RankOutOfRangeIsAnError) {
  TempDir dir("loader_dist");
  TokenLoader l(ramp(dir), 2, 8, Sampling::Random, 7);
  EXPECT_THAT([&] { l.distribute(2, 2); },
              ::testing::ThrowsMessage<Error>(HasSubstr("rank 2 is out of range for a world of 2")));
  EXPECT_THROW(l.distribute(0, 0), Error);
  EXPECT_EQ(l.world_size(), 1);
}

}  // namespace
}  // namespace nabla::data
