// White-box tests of the pre-tokenizer: the hand-written LLaMA-3 splitter against the real
// regex (PCRE2 with Unicode properties), and llama.cpp's category collapsing.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pre_tokenizer.h"

#include <gtest/gtest.h>
#include <pcre2.h>

#include "golden_util.h"
#include "unicode.h"

namespace dkb::tokenizer {
namespace {

// Word lengths (code points) of the reference regex run with full Unicode semantics.
std::vector<size_t> pcre_split(const std::string& pattern, const std::string& text) {
  int err = 0;
  PCRE2_SIZE off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
  EXPECT_NE(code, nullptr);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  std::vector<size_t> out;
  size_t pos = 0;
  auto n_cps = [&](size_t a, size_t b) { return uni::cpts_from_utf8(text.substr(a, b - a)).size(); };
  size_t last = 0;
  while (pos < text.size()) {
    if (pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos, 0, md,
                    nullptr) < 0) {
      break;
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    if (ov[0] > last) out.push_back(n_cps(last, ov[0]));
    out.push_back(n_cps(ov[0], ov[1]));
    last = pos = ov[1];
  }
  if (last < text.size()) out.push_back(n_cps(last, text.size()));
  pcre2_match_data_free(md);
  pcre2_code_free(code);
  return out;
}

std::vector<std::string> sample_texts() {
  std::vector<std::string> texts;
  if (!test::fixture_exists("vocab/ggml-vocab-gpt-2.gguf.inp")) return texts;
  for (auto& c : test::read_golden(test::fixture_path("vocab/ggml-vocab-gpt-2.gguf.inp"),
                                   test::fixture_path("vocab/ggml-vocab-gpt-2.gguf.out"))) {
    texts.push_back(c.text);
  }
  texts.push_back("I'M HERE, YOU'RE THERE, WE'LL SEE 12345678 x\r\n\r\n  y");
  texts.push_back("tab\t\tend  \n  ");
  return texts;
}

TEST(PreTokenizer, Llama3SplitterMatchesTheRegex) {
  DKB_REQUIRE_FIXTURE("vocab/ggml-vocab-gpt-2.gguf.inp");
  auto pre = PreTokenizer::create(PreType::kLlama3);
  ASSERT_TRUE(pre.is_ok());
  const std::string re =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  for (const std::string& t : sample_texts()) {
    EXPECT_EQ((*pre)->split_offsets(uni::cpts_from_utf8(t)), pcre_split(re, t))
        << "'" << test::escape(t) << "'";
  }
}

TEST(PreTokenizer, Gpt2SplitterMatchesTheRegex) {
  DKB_REQUIRE_FIXTURE("vocab/ggml-vocab-gpt-2.gguf.inp");
  auto pre = PreTokenizer::create(PreType::kGpt2);
  ASSERT_TRUE(pre.is_ok());
  const std::string re =
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
  for (const std::string& t : sample_texts()) {
    EXPECT_EQ((*pre)->split_offsets(uni::cpts_from_utf8(t)), pcre_split(re, t))
        << "'" << test::escape(t) << "'";
  }
}

std::vector<std::string> words(PreType type, const std::string& text) {
  auto pre = PreTokenizer::create(type);
  EXPECT_TRUE(pre.is_ok());
  std::vector<std::string> out;
  const auto cpts = uni::cpts_from_utf8(text);
  size_t start = 0;
  for (size_t n : (*pre)->split_offsets(cpts)) {
    std::string w;
    for (size_t i = start; i < start + n; ++i) uni::append_utf8(w, cpts[i]);
    out.push_back(w);
    start += n;
  }
  return out;
}

TEST(PreTokenizer, Qwen2DigitsOneByOne) {
  EXPECT_EQ(words(PreType::kQwen2, "abc 2024\xD9\xA3!"),
            (std::vector<std::string>{"abc", " ", "2", "0", "2", "4", "\xD9\xA3", "!"}));
}

TEST(PreTokenizer, Deepseek3DigitsInThrees) {
  EXPECT_EQ(words(PreType::kDeepseek3, "1234567 \xE4\xBD\xA0\xE5\xA5\xBD"),
            (std::vector<std::string>{"123", "456", "7", " ", "\xE4\xBD\xA0\xE5\xA5\xBD"}));
}

TEST(PreTokenizer, DeepseekLlmAppliesItsListInSequence) {
  // "[\r\n]" first, then letters with one optional leading space, then punctuation.
  EXPECT_EQ(words(PreType::kDeepseekLlm, "Hi there\n\nok!!"),
            (std::vector<std::string>{"Hi", " there", "\n", "\n", "ok", "!!"}));
}

TEST(PreTokenizer, InvalidUtf8BecomesReplacementCharacter) {
  auto pre = PreTokenizer::create(PreType::kQwen2);
  ASSERT_TRUE(pre.is_ok());
  const auto w = (*pre)->split("a\xFF" "b");
  std::string joined;
  for (const auto& x : w) joined += x;
  // U+FFFD = EF BF BD, byte-encoded as three GPT-2 characters.
  EXPECT_EQ(joined, "a" + uni::byte_to_utf8(0xEF) + uni::byte_to_utf8(0xBF) +
                        uni::byte_to_utf8(0xBD) + "b");
}

}  // namespace
}  // namespace dkb::tokenizer
