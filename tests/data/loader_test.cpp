// TokenLoader: windows hold consecutive shard tokens, random batches depend only on
// (seed, position), sequential batches walk the shard in order and wrap.
#include "nabla/data/loader.h"

#include <set>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/core/error.h"
#include "tests/tokenizers/helpers.h"

namespace nabla::data {
namespace {

using ::testing::HasSubstr;
using tokenizers::testing::TempDir;

// A shard whose token i is i % 1000, so a window's content reveals its start.
Shard ramp_shard(const TempDir& dir, int n) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<size_t>(i)] = i % 1000;
  write_shard(dir.file("ramp.bin"), t, 1000);
  return Shard::open(dir.file("ramp.bin"));
}

std::vector<int64_t> values(const Tensor& t) {
  return {t.data<int64_t>(), t.data<int64_t>() + t.numel()};
}

TEST(TokenLoader, RandomWindowsAreConsecutiveTokensInRange) {
  TempDir dir("loader");
  TokenLoader loader(ramp_shard(dir, 500), 4, 8, Sampling::Random, 1337);
  std::set<int64_t> starts;
  for (int k = 0; k < 50; ++k) {
    const Tensor b = loader.next();
    ASSERT_EQ(b.shape(), (Shape{4, 9}));
    EXPECT_EQ(b.dtype(), DType::I64);
    const auto v = values(b);
    for (int r = 0; r < 4; ++r) {
      const int64_t s = v[static_cast<size_t>(r * 9)];
      EXPECT_LE(s + 9, 500);
      starts.insert(s);
      for (int c = 0; c < 9; ++c) EXPECT_EQ(v[static_cast<size_t>(r * 9 + c)], s + c);
    }
  }
  EXPECT_GT(starts.size(), 100u);  // 200 draws over 492 starts: almost all distinct
  EXPECT_EQ(loader.position(), 50);
}

TEST(TokenLoader, RandomIsDeterministicAndResumable) {
  TempDir dir("loader");
  const Shard shard = ramp_shard(dir, 500);
  TokenLoader a(shard, 3, 5, Sampling::Random, 7), b(shard, 3, 5, Sampling::Random, 7);
  TokenLoader other_seed(shard, 3, 5, Sampling::Random, 8);
  std::vector<std::vector<int64_t>> seq;
  for (int k = 0; k < 6; ++k) seq.push_back(values(a.next()));
  for (int k = 0; k < 6; ++k) EXPECT_EQ(values(b.next()), seq[static_cast<size_t>(k)]);
  EXPECT_NE(values(other_seed.next()), seq[0]);
  TokenLoader resumed(shard, 3, 5, Sampling::Random, 7);
  resumed.set_position(4);
  EXPECT_EQ(values(resumed.next()), seq[4]);
  EXPECT_EQ(values(resumed.next()), seq[5]);
}

TEST(TokenLoader, SequentialWalksInOrderAndWraps) {
  TempDir dir("loader");
  // 21 tokens, T = 4: windows start at 0, 4, 8, 12, 16 ((21 - 1) / 4 = 5 windows).
  TokenLoader loader(ramp_shard(dir, 21), 2, 4, Sampling::Sequential);
  EXPECT_EQ(loader.num_windows(), 5);
  EXPECT_EQ(loader.num_batches(), 3);
  const std::vector<int64_t> starts = {0, 4, 8, 12, 16, 0, 4, 8};
  for (size_t k = 0; k < 4; ++k) {
    const auto v = values(loader.next());
    EXPECT_EQ(v[0], starts[2 * k]);
    EXPECT_EQ(v[5], starts[2 * k + 1]);
    EXPECT_EQ(v[9], starts[2 * k + 1] + 4);
  }
  loader.reset();
  EXPECT_EQ(values(loader.next())[0], 0);
}

TEST(TokenLoader, ShardShorterThanAWindowIsAnError) {
  TempDir dir("loader");
  EXPECT_THAT([&] { TokenLoader(ramp_shard(dir, 8), 1, 8, Sampling::Random); },
              ::testing::ThrowsMessage<Error>(HasSubstr("fewer than one window")));
  EXPECT_THROW(TokenLoader(ramp_shard(dir, 80), 0, 8, Sampling::Random), Error);
}

}  // namespace
}  // namespace nabla::data
