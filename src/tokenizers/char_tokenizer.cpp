// Character (byte) tokenizer: vocabulary from a corpus, JSON save/load.
#include "nabla/tokenizers/char_tokenizer.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "nabla/core/error.h"

namespace nabla::tokenizers {

CharTokenizer CharTokenizer::from_corpus(std::string_view corpus) {
  std::array<bool, 256> seen{};
  for (const char c : corpus) seen[static_cast<uint8_t>(c)] = true;
  std::vector<uint8_t> bytes;
  for (int b = 0; b < 256; ++b) {
    if (seen[b]) bytes.push_back(static_cast<uint8_t>(b));
  }
  NABLA_CHECK(!bytes.empty(), "char tokenizer: the corpus is empty");
  return CharTokenizer(std::move(bytes));
}

CharTokenizer::CharTokenizer(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {
  NABLA_CHECK(!bytes_.empty(), "char tokenizer: the vocabulary is empty");
  ids_.fill(-1);
  for (size_t i = 0; i < bytes_.size(); ++i) {
    NABLA_CHECK(i == 0 || bytes_[i - 1] < bytes_[i],
                "char tokenizer: vocabulary bytes must be strictly increasing, got ",
                int(bytes_[i - 1]), " before ", int(bytes_[i]));
    ids_[bytes_[i]] = static_cast<int32_t>(i);
  }
}

CharTokenizer CharTokenizer::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  NABLA_CHECK_IO(in.good(), "char tokenizer: cannot open ", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  NABLA_CHECK_IO(j.is_object() && j.value("kind", "") == "nabla-char-tokenizer" &&
                     j.value("version", 0) == 1 && j.contains("bytes") && j["bytes"].is_array(),
                 "char tokenizer: ", path,
                 " is not a char tokenizer file ({\"kind\": \"nabla-char-tokenizer\", "
                 "\"version\": 1, \"bytes\": [...]})");
  std::vector<uint8_t> bytes;
  for (const auto& b : j["bytes"]) {
    NABLA_CHECK_IO(b.is_number_integer() && b.get<int64_t>() >= 0 && b.get<int64_t>() < 256,
                   "char tokenizer: ", path, ": \"bytes\" entry ", b.dump(),
                   " is not a byte value 0..255");
    bytes.push_back(b.get<uint8_t>());
  }
  try {
    return CharTokenizer(std::move(bytes));
  } catch (const Error& e) {
    throw IoError(std::string(e.what()) + " (" + path + ")");
  }
}

void CharTokenizer::save(const std::string& path) const {
  const nlohmann::json j = {{"kind", "nabla-char-tokenizer"}, {"version", 1}, {"bytes", bytes_}};
  std::ofstream out(path, std::ios::binary);
  out << j.dump() << "\n";
  NABLA_CHECK_IO(out.good(), "char tokenizer: cannot write ", path);
}

std::vector<int32_t> CharTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const int32_t id = ids_[static_cast<uint8_t>(text[i])];
    NABLA_CHECK(id >= 0, "char tokenizer: byte ", int(static_cast<uint8_t>(text[i])),
                " at offset ", i, " is not in the vocabulary");
    ids[i] = id;
  }
  return ids;
}

std::string CharTokenizer::decode_piece(int32_t /*prev*/, int32_t id) const {
  NABLA_CHECK(id >= 0 && id < static_cast<int32_t>(bytes_.size()), "char tokenizer: token id ",
              id, " is out of range [0, ", bytes_.size(), ")");
  return std::string(1, static_cast<char>(bytes_[id]));
}

}  // namespace nabla::tokenizers
