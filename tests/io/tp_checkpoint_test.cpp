// Tensor-parallel checkpoint files: the index round trip and its checks, slices of N shards
// merged back bitwise (GPT-2's three-part c_attn included), and the errors that name the
// file when a shard is missing or from another checkpoint.
#include "nabla/io/tp_checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "nabla/core/error.h"
#include "nabla/io/safetensors.h"
#include "tests/io/io_test_util.h"

namespace nabla::io {
namespace {

using ::testing::AllOf;
using testing::bitwise_equal;
using ::testing::HasSubstr;
using testing::random_tensor;
using ::testing::ThrowsMessage;

TpIndex two_shard_index() {
  return {
      .shards = 2, .tensors = {{"qkv", {.dim = 1, .parts = 3}}, {"emb", {}}, {"proj", {.dim = 0}}}};
}

TEST(TpCheckpoint, ShardFileNamesCarryRankAndCount) {
  EXPECT_EQ(tp_shard_file_name(1, 2), "model-tp-00001-of-00002.safetensors");
}

TEST(TpCheckpoint, IndexRoundTrips) {
  const TpIndex index = two_shard_index();
  const TpIndex back = parse_tp_index(tp_index_to_json(index), "index.json");
  EXPECT_EQ(back.shards, 2);
  EXPECT_EQ(back.tensors, index.tensors);
}

TEST(TpCheckpoint, BadIndexesNameTheFileAndField) {
  const std::string good = tp_index_to_json(two_shard_index());
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  auto expect_error = [](const std::string& json, const std::string& what) {
    EXPECT_THAT(
        [&] { parse_tp_index(json, "dir/model-tp.index.json"); },
        ThrowsMessage<IoError>(AllOf(HasSubstr(what), HasSubstr("dir/model-tp.index.json"))))
        << json;
  };
  expect_error("{", "invalid JSON");
  expect_error("[1]", "must be a JSON object");
  expect_error(edit("nabla-tensor-parallel", "other"), "\"format\" must be");
  expect_error(edit("\"version\": 1", "\"version\": 2"), "only version 1");
  expect_error(edit("\"shards\": 2", "\"shards\": 0"), "\"shards\" is 0");
  expect_error(edit("\"shards\": 2", "\"shards\": 99999999999"), "\"shards\" is 99999999999");
  expect_error(edit("\"shards\": 2", "\"shards\": 3"), "must list 3 shard files");
  expect_error(edit("model-tp-00001-of-00002", "../../etc/passwd"), "files[1] must be");
  expect_error(edit("\"split_dim\": 0", "\"split_dim\": 9"), "split_dim 9");
  expect_error(edit("\"parts\": 3", "\"parts\": 0"), "parts 0");
  expect_error(edit("\"split_dim\": -1", "\"split_dim\": -1, \"parts\": 2"), "parts 2");
  expect_error(edit("\"split_dim\": -1", "\"split_dim\": \"x\""), "\"split_dim\" must be");
}

// Slices for N ranks merge back into the whole tensor, bitwise, for uneven sizes too.
TEST(TpCheckpoint, SlicesMergeBackBitwise) {
  const Tensor qkv = random_tensor({5, 12}, kFloat32, 1);  // 3 parts of 4 columns
  const Tensor proj = random_tensor({7, 3}, kFloat32, 2);
  for (int64_t n : {1, 2, 3, 4}) {
    std::vector<Tensor> a, b;
    for (int64_t r = 0; r < n; ++r) {
      a.push_back(tp_slice(qkv, {.dim = 1, .parts = 3}, r, n).contiguous());
      b.push_back(tp_slice(proj, {.dim = 0}, r, n).contiguous());
    }
    EXPECT_TRUE(bitwise_equal(tp_merge(a, {.dim = 1, .parts = 3}, "qkv"), qkv)) << n;
    EXPECT_TRUE(bitwise_equal(tp_merge(b, {.dim = 0}, "proj"), proj)) << n;
  }
  // Rank 1 of 2 holds q, k and v's second halves.
  const Tensor s = tp_slice(qkv, {.dim = 1, .parts = 3}, 1, 2);
  EXPECT_TRUE(bitwise_equal(s.narrow(1, 2, 2).contiguous(), qkv.narrow(1, 6, 2).contiguous()));
}

TEST(TpCheckpoint, MergeRejectsDisagreeingSlices) {
  const Tensor a = random_tensor({4, 3}, kFloat32, 1);
  EXPECT_THAT(
      [&] {
        tp_merge({a, random_tensor({4, 2}, kFloat32, 2)}, {.dim = 0}, "w (dir)");
      },
      ThrowsMessage<IoError>(AllOf(
          HasSubstr("w (dir): shard 1 holds torch.float32 [4, 2]"),
          HasSubstr("only along dim 0"))));
  EXPECT_THAT(
      [&] {
        tp_merge({a, random_tensor({4, 3}, kInt32, 2)}, {.dim = 0}, "w");
      },
      ThrowsMessage<IoError>(HasSubstr("shard 1 holds torch.int32")));
  EXPECT_THAT(
      [&] {
        tp_merge({a, random_tensor({5, 3}, kFloat32, 2)}, {}, "norm");
      },
      ThrowsMessage<IoError>(HasSubstr("replicated: must be equal")));
  EXPECT_THAT(
      [&] {
        tp_merge({a, a}, {.dim = 1, .parts = 2}, "qkv");
      },
      ThrowsMessage<IoError>(HasSubstr("into 2 parts")));
}

class TpCheckpointFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int64_t r = 0; r < 2; ++r) {
      save_tp_shard(
          dir_, r, 2,
          {{"qkv", tp_slice(qkv_, {.dim = 1, .parts = 3}, r, 2)},
           {"emb", emb_},
           {"proj", tp_slice(proj_, {.dim = 0}, r, 2)}},
          kConfig);
    }
    save_tp_index(dir_, two_shard_index(), kConfig);
  }
  std::string path(const std::string& name) const {
    return (std::filesystem::path(dir_) / name).string();
  }

  static constexpr const char* kConfig = "{\"model_type\": \"test\"}\n";
  testing::TempDir tmp_;
  std::string dir_ = tmp_.file("ckpt");
  Tensor qkv_ = random_tensor({5, 12}, kFloat32, 1), emb_ = random_tensor({3, 4}, kFloat32, 2),
         proj_ = random_tensor({7, 3}, kFloat32, 3);
};

TEST_F(TpCheckpointFiles, LoadsWholeTensorsInIndexOrder) {
  EXPECT_TRUE(is_tp_checkpoint(dir_));
  const Weights w = load_tp_checkpoint(dir_);
  EXPECT_EQ(w.names(), (std::vector<std::string>{"qkv", "emb", "proj"}));
  EXPECT_TRUE(bitwise_equal(w.at("qkv"), qkv_));
  EXPECT_TRUE(bitwise_equal(w.at("emb"), emb_));
  EXPECT_TRUE(bitwise_equal(w.at("proj"), proj_));
  EXPECT_EQ(w.metadata.at("config"), kConfig);
}

TEST_F(TpCheckpointFiles, MissingShardIsNamed) {
  std::filesystem::remove(path("model-tp-00001-of-00002.safetensors"));
  EXPECT_THAT(
      [&] { load_tp_checkpoint(dir_); },
      ThrowsMessage<IoError>(AllOf(
          HasSubstr("shard 1 of 2 not found"), HasSubstr("model-tp-00001-of-00002.safetensors"))));
}

TEST_F(TpCheckpointFiles, MissingIndexReadsAsIncomplete) {
  remove_tp_index(dir_);
  EXPECT_FALSE(is_tp_checkpoint(dir_));
  EXPECT_THAT(
      [&] { load_tp_checkpoint(dir_); },
      ThrowsMessage<IoError>(HasSubstr("a folder without its index is incomplete")));
}

TEST_F(TpCheckpointFiles, ShardOfAnotherRankOrCountIsNamed) {
  std::filesystem::copy_file(
      path("model-tp-00000-of-00002.safetensors"), path("model-tp-00001-of-00002.safetensors"),
      std::filesystem::copy_options::overwrite_existing);
  EXPECT_THAT(
      [&] { load_tp_checkpoint(dir_); }, ThrowsMessage<IoError>(AllOf(
                                             HasSubstr("model-tp-00001-of-00002.safetensors"),
                                             HasSubstr("rank 0 of 2, the index expects rank 1"))));
}

TEST_F(TpCheckpointFiles, ShardOfAnotherConfigIsNamed) {
  save_tp_index(dir_, two_shard_index(), "{\"model_type\": \"other\"}\n");
  EXPECT_THAT(
      [&] { load_tp_checkpoint(dir_); },
      ThrowsMessage<IoError>(AllOf(
          HasSubstr("model-tp-00000-of-00002.safetensors"), HasSubstr("another config.json"))));
}

TEST_F(TpCheckpointFiles, IndexListingOtherTensorsIsNamed) {
  TpIndex index = two_shard_index();
  index.tensors[1].first = "embed";
  save_tp_index(dir_, index, kConfig);
  EXPECT_THAT(
      [&] { load_tp_checkpoint(dir_); }, ThrowsMessage<IoError>(AllOf(
                                             HasSubstr("tensor embed (listed by the index) is "
                                                       "missing"),
                                             HasSubstr("model-tp-00000-of-00002.safetensors"))));
  index.tensors.pop_back();
  save_tp_index(dir_, index, kConfig);
  EXPECT_THAT(
      [&] { load_tp_checkpoint(dir_); },
      ThrowsMessage<IoError>(HasSubstr("holds 3 tensors, the index lists 2")));
}

}  // namespace
}  // namespace nabla::io
