// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011): element i of a fill
// draws from counter (offset + i), so results do not depend on how threads split the work.
#pragma once

#include <array>
#include <cstdint>

namespace nabla {

/// Philox4x32-10: four 32-bit random words for a (key, counter) pair.
std::array<uint32_t, 4> philox4x32(uint64_t key, uint64_t counter_lo, uint64_t counter_hi = 0);

/// A seeded stream of random numbers: (seed, offset). Each fill reserves a block of
/// counters by advancing the offset; saving both restores the stream exactly.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  /// Reserves n counters and returns the first.
  uint64_t advance(uint64_t n) {
    const uint64_t first = offset_;
    offset_ += n;
    return first;
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

/// The process-wide default generator (torch.manual_seed sets it).
Generator& default_generator();
/// Seeds the default generator.
void manual_seed(uint64_t seed);

/// Uniform float in [0, 1) from a 32-bit word (24 random bits).
inline float uniform01(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }
/// Uniform double in [0, 1) from two 32-bit words (53 random bits).
inline double uniform01_double(uint32_t a, uint32_t b) {
  const uint64_t bits = (uint64_t{a} << 21) ^ uint64_t{b >> 11};
  return static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) * (1.0 / 9007199254740992.0);
}

}  // namespace nabla
