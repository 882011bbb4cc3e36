// Hugging Face tokenizer.json path: reference encodings (encode.json, add_special_tokens
// false) and llama.cpp's deepseek-r1-qwen golden file on the qwen3 vocabulary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "golden_util.h"
#include "tokenizer/tokenizer.h"

namespace dkb::tokenizer {
namespace {

void check_encode_json(const std::string& dir, const char* pre) {
  const std::string tj = dir + "/tokenizer.json";
  DKB_REQUIRE_FIXTURE(tj);
  auto tok = Tokenizer::from_hf_json(test::fixture_path(tj));
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  EXPECT_EQ((*tok)->pre_name(), pre);
  const auto j = nlohmann::json::parse(test::read_file(test::fixture_path(dir + "/encode.json")));
  ASSERT_FALSE(j["cases"].empty());
  int ok = 0;
  for (const auto& c : j["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const auto want = c["ids"].get<std::vector<int32_t>>();
    const auto ids = (*tok)->encode(text, EncodeOptions{false, false});
    EXPECT_EQ(ids, want) << "text '" << test::escape(text) << "'\n got: " << test::ids_str(ids)
                         << "\nwant: " << test::ids_str(want);
    ok += ids == want;
    if (text.find("<think>") == std::string::npos && text.find("</think>") == std::string::npos) {
      EXPECT_EQ((*tok)->decode(ids), text) << "round trip";
    }
  }
  std::printf("[ %s encode.json ] %d/%zu cases match\n", dir.c_str(), ok, j["cases"].size());
}

TEST(HfJson, DeepseekV3EncodeJson) { check_encode_json("tokenizers/deepseek-v3", "deepseek-v3"); }
TEST(HfJson, Qwen3EncodeJson) { check_encode_json("tokenizers/qwen3", "qwen2"); }

TEST(HfJson, DeepseekR1QwenGolden) {
  DKB_REQUIRE_FIXTURE("tokenizers/qwen3/tokenizer.json");
  DKB_REQUIRE_FIXTURE("vocab/ggml-vocab-deepseek-r1-qwen.gguf.inp");
  auto tok = Tokenizer::from_hf_json(test::fixture_path("tokenizers/qwen3/tokenizer.json"));
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  const auto cases =
      test::read_golden(test::fixture_path("vocab/ggml-vocab-deepseek-r1-qwen.gguf.inp"),
                        test::fixture_path("vocab/ggml-vocab-deepseek-r1-qwen.gguf.out"));
  ASSERT_GT(cases.size(), 30u);
  int ok = 0;
  for (const auto& c : cases) {
    const auto ids = (*tok)->encode(c.text, EncodeOptions{false, false});
    EXPECT_EQ(ids, c.ids) << "text '" << test::escape(c.text) << "'\n got: " << test::ids_str(ids)
                          << "\nwant: " << test::ids_str(c.ids);
    ok += ids == c.ids;
  }
  std::printf("[ vocab deepseek-r1-qwen ] %d/%zu strings match\n", ok, cases.size());
}

TEST(HfJson, SpecialTokensAndEog) {
  DKB_REQUIRE_FIXTURE("tokenizers/qwen3/tokenizer.json");
  auto tok = Tokenizer::from_hf_json(test::fixture_path("tokenizers/qwen3/tokenizer.json"));
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  const Tokenizer& t = **tok;
  const TokenId im_start = t.find_token("<|im_start|>");
  const TokenId im_end = t.find_token("<|im_end|>");
  ASSERT_GE(im_start, 0);
  ASSERT_GE(im_end, 0);
  EXPECT_TRUE(t.is_eog(im_end));
  EXPECT_TRUE(t.is_eog(t.find_token("<|endoftext|>")));
  EXPECT_FALSE(t.is_eog(im_start));
  // Control tokens are text unless parse_special; user-defined ones (<think>) always split.
  const auto parsed = t.encode("<|im_start|>user\nhi<|im_end|>", EncodeOptions{false, true});
  ASSERT_GE(parsed.size(), 3u);
  EXPECT_EQ(parsed.front(), im_start);
  EXPECT_EQ(parsed.back(), im_end);
  const auto plain = t.encode("<|im_start|>", EncodeOptions{false, false});
  EXPECT_GT(plain.size(), 1u);
  EXPECT_EQ(t.token_to_piece(im_end, false), "");
  EXPECT_EQ(t.token_to_piece(im_end, true), "<|im_end|>");
  EXPECT_EQ(t.decode(parsed, true), "<|im_start|>user\nhi<|im_end|>");
  EXPECT_EQ(t.decode(parsed, false), "user\nhi");
}

TEST(HfJson, MalformedFilesGiveClearErrors) {
  const std::string dir = ::testing::TempDir();
  auto write = [&](const std::string& name, const std::string& body) {
    const std::string p = dir + "/" + name;
    FILE* f = std::fopen(p.c_str(), "wb");
    std::fwrite(body.data(), 1, body.size(), f);
    std::fclose(f);
    return p;
  };
  const std::string pre =
      R"("pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},)";
  auto r1 = Tokenizer::from_hf_json(write("bad1.json", "{not json"));
  ASSERT_FALSE(r1.is_ok());
  EXPECT_NE(r1.status().message().find("not valid JSON"), std::string::npos);
  auto r2 = Tokenizer::from_hf_json(write(
      "bad2.json", "{" + pre + R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a c"]}})"));
  ASSERT_FALSE(r2.is_ok());
  EXPECT_NE(r2.status().message().find("unknown token 'c'"), std::string::npos)
      << r2.status().to_string();
  auto r3 = Tokenizer::from_hf_json(write(
      "bad3.json", "{" + pre + R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1}}})"));
  ASSERT_FALSE(r3.is_ok());
  EXPECT_NE(r3.status().message().find("merges"), std::string::npos);
  auto r4 = Tokenizer::from_hf_json(write(
      "ok.json", "{" + pre + R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}})"));
  ASSERT_TRUE(r4.is_ok()) << r4.status().to_string();
  EXPECT_EQ((*r4)->encode("ab", EncodeOptions{false, false}), std::vector<TokenId>{2});
  auto r5 = Tokenizer::from_hf_json(dir + "/does-not-exist.json");
  EXPECT_FALSE(r5.is_ok());
}

}  // namespace
}  // namespace dkb::tokenizer

namespace dkb::tokenizer {
namespace {

TEST(HfJson, HugeInputsThroughCollapsedRegex) {
  DKB_REQUIRE_FIXTURE("tokenizers/qwen3/tokenizer.json");
  auto tok = Tokenizer::from_hf_json(test::fixture_path("tokenizers/qwen3/tokenizer.json"));
  ASSERT_TRUE(tok.is_ok());
  for (const std::string& s : {std::string(200000, ' ') + "x", std::string(200000, 'a'),
                               std::string(100000, '!') + "\n\n", std::string(50000, '\n')}) {
    const auto ids = (*tok)->encode(s, EncodeOptions{false, false});
    EXPECT_EQ((*tok)->decode(ids), s);
  }
}

}  // namespace
}  // namespace dkb::tokenizer
