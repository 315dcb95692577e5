// The cache of large freed buffers: a freed buffer is kept by size class and handed out again
// for a size of the same class; small buffers are not kept; release_cached_memory empties it.
#include <gtest/gtest.h>

#include "nabla/core/storage.h"
#include "nabla/ops/creation.h"

namespace nabla {
namespace {

TEST(StorageCache, LargeBuffersAreReusedBySizeClass) {
  release_cached_memory();
  const void* first = nullptr;
  {
    const Tensor t = empty({100 * 1024 / 4});  // 100 KiB: class 112 KiB
    first = t.data<float>();
  }
  if (cached_bytes() == 0) GTEST_SKIP() << "the cache is off (AddressSanitizer build)";
  EXPECT_EQ(cached_bytes(), 112u * 1024);
  {
    const Tensor t = empty({110 * 1024 / 4});  // 110 KiB: the same class, the same buffer
    EXPECT_EQ(t.data<float>(), first);
    EXPECT_EQ(cached_bytes(), 0u);
    const Tensor small = empty({1000});  // 4 KB: glibc's, never cached
  }
  EXPECT_EQ(cached_bytes(), 112u * 1024);
  release_cached_memory();
  EXPECT_EQ(cached_bytes(), 0u);
}

TEST(StorageCache, ZerosAreZerosOnAReusedBuffer) {
  {
    Tensor t = empty({1 << 16});
    t.fill_(7.0);
  }
  const Tensor z = zeros({1 << 16});
  EXPECT_EQ(z.abs().sum().item(), 0.0);
}

}  // namespace
}  // namespace nabla
