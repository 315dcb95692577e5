// Philox4x32-10 known answers (Random123's kat_vectors) and thread-count independence of fills.
#include <gtest/gtest.h>

#include "nabla/core/rng.h"
#include "nabla/core/threads.h"
#include "nabla/ops/creation.h"

namespace nabla {
namespace {

using Words = std::array<uint32_t, 4>;

TEST(Philox, KnownAnswerZero) {
  EXPECT_EQ(philox4x32(0, 0, 0), (Words{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
}

TEST(Philox, KnownAnswerAllOnes) {
  const uint64_t ones = ~uint64_t{0};
  EXPECT_EQ(philox4x32(ones, ones, ones), (Words{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
}

TEST(Philox, KnownAnswerPiDigits) {
  // counter {243f6a88, 85a308d3, 13198a2e, 03707344}, key {a4093822, 299f31d0}
  EXPECT_EQ(philox4x32(0x299f31d0a4093822, 0x85a308d3243f6a88, 0x0370734413198a2e),
            (Words{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Generator, AdvanceReservesCounters) {
  Generator g(3);
  EXPECT_EQ(g.advance(10), 0U);
  EXPECT_EQ(g.advance(5), 10U);
  EXPECT_EQ(g.offset(), 15U);
  g.manual_seed(4);
  EXPECT_EQ(g.offset(), 0U);
  EXPECT_EQ(g.seed(), 4U);
}

// Large enough (> 32K elements) that the fill runs in parallel.
TEST(Generator, FillsDoNotDependOnThreadCount) {
  const int before = get_num_threads();
  auto draw = [](int threads) {
    set_num_threads(threads);
    Generator g(11);
    std::vector<double> out = rand({70001}, {}, &g).to_vector();
    for (double v : randn({40003}, kFloat64, &g).to_vector()) out.push_back(v);
    for (double v : randint(0, 1000, {50001}, kInt64, &g).to_vector()) out.push_back(v);
    return out;
  };
  const auto one = draw(1);
  const auto two = draw(2);
  const auto three = draw(3);
  set_num_threads(before);
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, three);
}

TEST(Generator, PrefixOfALongerFillIsTheSame) {
  // Element i depends only on (seed, offset, i).
  Generator a(21), b(21);
  const auto small = rand({13}, {}, &a).to_vector();
  const auto big = rand({1000}, {}, &b).to_vector();
  EXPECT_EQ(small, std::vector<double>(big.begin(), big.begin() + 13));
}

}  // namespace
}  // namespace nabla
