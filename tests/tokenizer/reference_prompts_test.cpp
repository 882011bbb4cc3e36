// Every model of fixtures/reference: llama.cpp's prompt_tokens (BOS/CLS+SEP added) and the
// text of its greedy tokens, piece by piece.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "golden_util.h"
#include "tokenizer/tokenizer.h"

namespace dkb::tokenizer {
namespace {

std::string to_hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string o;
  for (unsigned char c : s) {
    o += d[c >> 4];
    o += d[c & 15];
  }
  return o;
}

TEST(ReferencePrompts, AllModels) {
  DKB_REQUIRE_FIXTURE("reference");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(test::fixture_path("reference"))) {
    if (e.path().extension() != ".json") continue;
    const std::string model = "models/" + e.path().stem().string() + ".gguf";
    if (!test::fixture_exists(model)) continue;
    auto file = gguf::File::open(test::fixture_path(model));
    ASSERT_TRUE(file.is_ok()) << model << ": " << file.status().to_string();
    auto tok = Tokenizer::from_gguf(*file);
    ASSERT_TRUE(tok.is_ok()) << model << ": " << tok.status().to_string();
    const auto j = nlohmann::json::parse(test::read_file(e.path().string()));
    EXPECT_EQ((*tok)->n_vocab(), j["n_vocab"].get<int32_t>()) << model;
    for (const auto& c : j["cases"]) {
      const std::string prompt = c["prompt"].get<std::string>();
      const auto want = c["prompt_tokens"].get<std::vector<int32_t>>();
      EXPECT_EQ((*tok)->encode(prompt, EncodeOptions{true, true}), want)
          << model << " prompt '" << prompt << "'";
      if (c.contains("greedy_tokens") && c.contains("greedy_text_hex")) {
        std::string text;
        for (int32_t id : c["greedy_tokens"].get<std::vector<int32_t>>()) {
          text += (*tok)->token_to_piece(id, false);
        }
        EXPECT_EQ(to_hex(text), c["greedy_text_hex"].get<std::string>()) << model;
      }
    }
    ++files;
  }
  std::printf("[ reference ] %d model files checked\n", files);
  EXPECT_GT(files, 0);
}

}  // namespace
}  // namespace dkb::tokenizer
