// The Fashion-MNIST training split (47 MB inflated) against values read by Python's gzip.
#include <gtest/gtest.h>

#include <filesystem>

#include "nabla/io/idx.h"
#include "tests/testing/fixture.h"

namespace nabla::io {
namespace {

TEST(IdxSlow, RealFashionMnistTrainSplitMatchesPythonReader) {
  if (!std::filesystem::exists(kFashionMnistDir)) {
    GTEST_SKIP() << kFashionMnistDir << " not found: install dataset-fashion-mnist to run this test";
  }
  const testing::Fixture fx = testing::load_fixture("idx_fashion_mnist");
  const MnistSplit s = read_mnist(kFashionMnistDir, /*train=*/true);
  const auto& shapes = fx.meta["shapes"];
  EXPECT_EQ(s.images.shape(), Shape(shapes["train_images"].get<std::vector<int64_t>>()));
  EXPECT_EQ(s.labels.shape(), Shape(shapes["train_labels"].get<std::vector<int64_t>>()));
  const std::vector<double> labels_head(s.labels.data<int64_t>(), s.labels.data<int64_t>() + 20);
  const std::vector<double> image0(s.images.data<uint8_t>(), s.images.data<uint8_t>() + 784);
  EXPECT_EQ(labels_head, fx["train_labels_head"].to_vector());
  EXPECT_EQ(image0, fx["train_image0"].to_vector());
}

}  // namespace
}  // namespace nabla::io
