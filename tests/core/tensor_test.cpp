// Tensor metadata, views of storage, dtypes, devices and operand checks (core layer only).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/core/tensor.h"

namespace nabla {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

TEST(Tensor, EmptyIsContiguousWithRowMajorStrides) {
  Tensor t = Tensor::empty({2, 3, 4});
  EXPECT_EQ(t.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.dim(), 3);
  EXPECT_EQ(t.size(-1), 4);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.dtype(), kFloat32);
  EXPECT_TRUE(t.device().is_cpu());
}

TEST(Tensor, SizeOutOfRangeNamesTheRange) {
  Tensor t = Tensor::empty({2, 3});
  EXPECT_THAT([&] { (void)t.size(2); },
              ThrowsMessage<ShapeError>(HasSubstr("expected to be in range of [-2, 1]")));
}

TEST(Tensor, ViewOutsideStorageIsRejected) {
  Tensor t = Tensor::empty({4});
  EXPECT_THAT([&] { Tensor::make_view(t.storage(), {3}, {2}, 0, kFloat32); },
              ThrowsMessage<ShapeError>(HasSubstr("reach outside a storage of 16 bytes")));
  Tensor v = Tensor::make_view(t.storage(), {2}, {2}, 1, kFloat32);  // elements 1 and 3
  EXPECT_FALSE(v.is_contiguous());
  EXPECT_TRUE(v.is_alias_of(t));
}

TEST(Tensor, DataChecksDtype) {
  Tensor t = Tensor::empty({2}, kInt64);
  EXPECT_THAT([&] { t.data<float>(); },
              ThrowsMessage<DTypeError>(HasSubstr("requested torch.float32 elements from a torch.int64")));
}

TEST(Tensor, ItemNeedsOneElement) {
  Tensor t = Tensor::empty({2});
  EXPECT_THAT([&] { (void)t.item(); }, ThrowsMessage<ShapeError>(HasSubstr("2 elements")));
}

TEST(Tensor, UndefinedTensorUseIsAnError) {
  Tensor t;
  EXPECT_FALSE(t.defined());
  EXPECT_THAT([&] { (void)t.shape(); }, ThrowsMessage<Error>(HasSubstr("undefined tensor")));
}

TEST(Tensor, CudaStorageIsUnavailable) {
  EXPECT_THAT([] { Tensor::empty({2}, Device("cuda:0")); },
              ThrowsMessage<DeviceError>(HasSubstr("cuda:0 is not available")));
}

TEST(Tensor, CheckSameNamesOperandsAndDtypes) {
  Tensor a = Tensor::empty({2});
  Tensor b = Tensor::empty({2}, kFloat64);
  EXPECT_THAT([&] { check_same("add", {{"self", a}, {"other", b}}); },
              ThrowsMessage<DTypeError>(HasSubstr(
                  "add: expected all tensors to have the same dtype, got torch.float32 (self) and "
                  "torch.float64 (other)")));
}

TEST(Tensor, AbsurdShapeIsRejectedBeforeAllocating) {
  EXPECT_THROW(Tensor::empty({int64_t{1} << 40, int64_t{1} << 40}), ShapeError);
  EXPECT_THROW(Tensor::empty({int64_t{1} << 61}), Error);
  EXPECT_THROW(Tensor::empty({-1}), ShapeError);
}

TEST(Shape, BroadcastFollowsNumpyRules) {
  EXPECT_EQ(broadcast_shapes({3, 1, 5}, {4, 1}, "add"), (Shape{3, 4, 5}));
  EXPECT_THAT([] { broadcast_shapes({2, 3}, {4}, "add"); },
              ThrowsMessage<ShapeError>(HasSubstr("add: shapes [2, 3] and [4] cannot be broadcast")));
}

TEST(DType, NamesAndPromotion) {
  EXPECT_EQ(dtype_name(kInt64), "torch.int64");
  EXPECT_EQ(promote_types(kInt64, kFloat32), kFloat32);
  EXPECT_EQ(promote_types(kBFloat16, kFloat32), kFloat32);
  EXPECT_EQ(promote_types(kBool, kInt32), kInt32);
  EXPECT_EQ(dtype_from_short_name("bf16"), kBFloat16);
  EXPECT_THROW(dtype_from_short_name("f16"), DTypeError);
}

TEST(BFloat16, RoundsToNearestEven) {
  EXPECT_EQ(BFloat16(1.0f).bits, 0x3f80);
  EXPECT_EQ(static_cast<float>(BFloat16(1.00390625f)), 1.0f);     // halfway, even stays
  EXPECT_EQ(static_cast<float>(BFloat16(1.01171875f)), 1.015625f);  // halfway, odd rounds up
  EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16(std::nanf("")))));
}

TEST(Device, ParsesAndPrints) {
  EXPECT_EQ(Device("cuda:1").str(), "cuda:1");
  EXPECT_EQ(Device("cpu").str(), "cpu");
  EXPECT_THROW(Device("tpu"), Error);
  EXPECT_THROW(Device("cuda:x"), Error);
}

}  // namespace
}  // namespace nabla
