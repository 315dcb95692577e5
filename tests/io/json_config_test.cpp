// JsonConfig: parsing errors with byte offsets, typed getters and their messages.
#include "nabla/io/json_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nabla/core/error.h"
#include "tests/io/io_test_util.h"
#include "tests/testing/fixture.h"

namespace nabla::io {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

auto throws(const std::string& text) { return ThrowsMessage<IoError>(HasSubstr(text)); }

const char* kConfig = R"({"n_embd": 768, "n_layer": 12.0, "name": "gpt2", "bias": true,
  "eps": 1e-5, "bad": "abc", "neg": -3, "dims": [1, 2, 3], "rope": {"factor": "x", "theta": 500000},
  "big": 18446744073709551615})";

TEST(JsonConfig, TypedGetters) {
  const JsonConfig c = JsonConfig::parse(kConfig, "config.json");
  EXPECT_EQ(c.get_positive_int("n_embd"), 768);
  EXPECT_EQ(c.get_int("n_layer"), 12);  // integral float accepted
  EXPECT_EQ(c.get_int("neg"), -3);
  EXPECT_EQ(c.get_string("name"), "gpt2");
  EXPECT_TRUE(c.get_bool("bias"));
  EXPECT_DOUBLE_EQ(c.get_double("eps"), 1e-5);
  EXPECT_DOUBLE_EQ(c.get_double("n_embd"), 768.0);
  EXPECT_EQ(c.get_int_list("dims"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(c.get_object("rope").get_int("theta"), 500000);
  EXPECT_EQ(c.get_int("missing", 5), 5);
  EXPECT_EQ(c.get_string("missing", "d"), "d");
  EXPECT_TRUE(c.contains("rope"));
  EXPECT_EQ(c.keys().size(), 10u);
}

TEST(JsonConfig, WrongTypesNameFileFieldAndValue) {
  const JsonConfig c = JsonConfig::parse(kConfig, "config.json");
  EXPECT_THAT([&] { c.get_positive_int("bad"); }, throws("config.json: bad must be a positive integer, got \"abc\""));
  EXPECT_THAT([&] { c.get_positive_int("neg"); }, throws("neg must be a positive integer, got -3"));
  EXPECT_THAT([&] { c.get_int("eps"); }, throws("eps must be an integer, got 1e-05"));
  EXPECT_THAT([&] { c.get_int("big"); }, throws("big must be an integer"));
  EXPECT_THAT([&] { c.get_string("n_embd"); }, throws("n_embd must be a string, got 768"));
  EXPECT_THAT([&] { c.get_bool("name"); }, throws("name must be true or false"));
  EXPECT_THAT([&] { c.get_double("name"); }, throws("name must be a number"));
  EXPECT_THAT([&] { c.get_int_list("name"); }, throws("name must be an array of integers"));
  EXPECT_THAT([&] { c.get_object("rope").get_double("factor"); }, throws("config.json: rope.factor must be a number"));
  EXPECT_THAT([&] { c.get_object("dims"); }, throws("dims must be an object"));
  EXPECT_THAT([&] { c.get_int("n_head"); }, throws("config.json: missing field n_head\n---> HINT:"));
  EXPECT_THAT([&] { c.get_positive_int("bad", 3); }, throws("bad must be a positive integer"));
}

TEST(JsonConfig, ParseErrorsNameTheByteOffset) {
  EXPECT_THAT([] { JsonConfig::parse(R"({"a": 1,})", "c.json"); }, throws("(c.json, offset 8)"));
  EXPECT_THAT([] { JsonConfig::parse(R"({"a": 1, "a": 2})", "c.json"); }, throws("duplicate JSON key \"a\""));
  EXPECT_THAT([] { JsonConfig::parse("[1]", "c.json"); }, throws("c.json: expected a JSON object at the top level, got array"));
  EXPECT_THAT([] { JsonConfig::parse(std::string(100, '[') + std::string(100, ']'), "c.json"); },
              throws("JSON nested deeper than 64"));
  // A number beyond double's range is nlohmann's out_of_range, not a parse error (found by
  // fuzz/json_config_fuzz.cpp): still a nabla::Error naming the file.
  EXPECT_THAT([] { JsonConfig::parse(R"({"g": 1e400})", "c.json"); },
              throws("invalid JSON: [json.exception.out_of_range.406] number overflow parsing "
                     "'1e400' (c.json)"));
}

TEST(JsonConfig, LoadsFilesAndReportsMissingOnes) {
  testing::TempDir dir;
  testing::write_bytes(dir.file("config.json"), {'{', '"', 'n', '"', ':', '2', '}'});
  EXPECT_EQ(JsonConfig::load(dir.file("config.json")).get_int("n"), 2);
  EXPECT_EQ(JsonConfig::load(dir.file("config.json")).source(), dir.file("config.json"));
  EXPECT_THAT([] { JsonConfig::load("/nonexistent/config.json"); }, throws("cannot open"));
}

TEST(JsonConfig, ReadsTheGpt2EncoderFile) {
  NABLA_REQUIRE_SHARED_DATA(path, "gpt2_encoder.json");
  const JsonConfig c = JsonConfig::load(path);
  EXPECT_EQ(c.keys().size(), 50257u);
  EXPECT_EQ(c.get_int("<|endoftext|>"), 50256);
  EXPECT_EQ(c.get_int("\xC4\xA0the"), 262);  // "Ġthe"
}

}  // namespace
}  // namespace nabla::io
