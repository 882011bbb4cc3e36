#include "kb/chunker.h"

#include <gtest/gtest.h>

#include "base/utf8.h"

namespace dkb::kb {
namespace {

size_t code_points(std::string_view s) {
  size_t n = 0, i = 0;
  while (i < s.size()) {
    utf8::decode(s, i);
    ++n;
  }
  return n;
}

TEST(Chunker, ApproxTokenCount) {
  EXPECT_EQ(approx_token_count(""), 0u);
  EXPECT_EQ(approx_token_count("abcd"), 1u);
  EXPECT_EQ(approx_token_count("abcde"), 2u);
  EXPECT_EQ(approx_token_count("模型库"), 3u);
}

TEST(Chunker, ShortTextIsOneChunk) {
  auto chunks = chunk_text("  Hello world.\n\nSecond paragraph.  ", {});
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, "Hello world.\n\nSecond paragraph.");
  EXPECT_EQ(chunks[0].start, 2u);
  EXPECT_TRUE(chunk_text(" \n\t ", {}).empty());
}

TEST(Chunker, SplitsChineseAtSentenceEnds) {
  std::string text = "第一句话很长很长。第二句话也很长！第三句话是问题吗？第四句话；第五句话结束。";
  ChunkerOptions opt;
  opt.max_tokens = 10;
  opt.overlap_tokens = 0;
  opt.count_tokens = code_points;
  auto chunks = chunk_text(text, opt);
  std::vector<std::string> texts;
  for (auto& c : chunks) texts.push_back(c.text);
  EXPECT_EQ(texts,
            (std::vector<std::string>{"第一句话很长很长。", "第二句话也很长！",
                                      "第三句话是问题吗？", "第四句话；", "第五句话结束。"}));
  for (auto& c : chunks) {
    EXPECT_LE(code_points(c.text), 12u);
    EXPECT_EQ(text.substr(c.start, c.end - c.start), c.text);  // offsets are exact
  }
}

TEST(Chunker, EnglishSentencesOverlapAndHardSplit) {
  std::string text =
      "Alpha beta gamma. Delta epsilon zeta! Eta theta iota? Kappa lambda mu. Nu xi omicron.";
  ChunkerOptions opt;
  opt.max_tokens = 12;     // ≈ 48 bytes: two sentences
  opt.overlap_tokens = 5;  // one sentence
  auto chunks = chunk_text(text, opt);
  ASSERT_GE(chunks.size(), 3u);
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_LE(approx_token_count(chunks[i].text), 12u) << chunks[i].text;
    if (i > 0) {  // consecutive chunks share the previous chunk's last sentence
      EXPECT_LT(chunks[i].start, chunks[i - 1].end) << chunks[i].text;
    }
  }
  EXPECT_EQ(chunks.front().text.substr(0, 17), "Alpha beta gamma.");
  EXPECT_TRUE(chunks.back().text.ends_with("Nu xi omicron."));
  // "3.14" and "e.g.x" are not sentence ends (no following space).
  opt.max_tokens = 6;
  opt.overlap_tokens = 0;
  auto pi = chunk_text("Pi is 3.14 roughly. Yes, it is.", opt);
  ASSERT_EQ(pi.size(), 2u);
  EXPECT_EQ(pi[0].text, "Pi is 3.14 roughly.");
  EXPECT_EQ(pi[1].text, "Yes, it is.");

  // A sentence with no boundary at all is cut at code points, never mid-character.
  std::string long_cjk;
  for (int i = 0; i < 50; ++i) long_cjk += "模型";
  opt.max_tokens = 30;
  auto cut = chunk_text(long_cjk, opt);
  ASSERT_EQ(cut.size(), 4u);
  for (auto& c : cut) {
    EXPECT_TRUE(utf8::is_valid(c.text));
    EXPECT_LE(approx_token_count(c.text), 30u);
  }
}

TEST(Chunker, MarkdownHeadingPathsAndCodeFences) {
  std::string md =
      "Intro text.\n\n"
      "# Install\n\nGeneral steps.\n\n"
      "## Linux\nUse apt.\n\n"
      "```\n# not a heading\n```\n\n"
      "### Debian ###\n\nDebian notes.\n\n"
      "## Windows\n\nUse the installer.\n\n"
      "# Usage\n\nRun it.\n";
  auto chunks = chunk_text(md, {});
  using P = std::vector<std::string>;
  ASSERT_EQ(chunks.size(), 6u);
  EXPECT_EQ(chunks[0].heading_path, P{});
  EXPECT_EQ(chunks[0].text, "Intro text.");
  EXPECT_EQ(chunks[1].heading_path, (P{"Install"}));
  EXPECT_EQ(chunks[2].heading_path, (P{"Install", "Linux"}));
  EXPECT_NE(chunks[2].text.find("# not a heading"), std::string::npos);
  EXPECT_EQ(chunks[3].heading_path, (P{"Install", "Linux", "Debian"}));
  EXPECT_EQ(chunks[4].heading_path, (P{"Install", "Windows"}));
  EXPECT_EQ(chunks[5].heading_path, (P{"Usage"}));
  EXPECT_EQ(chunks[5].text, "# Usage\n\nRun it.");
  // Plain text mode ignores '#'.
  ChunkerOptions plain;
  plain.markdown = false;
  EXPECT_EQ(chunk_text(md, plain)[0].heading_path, P{});
}

TEST(Chunker, FormFeedsGivePageNumbers) {
  ChunkerOptions opt;
  opt.max_tokens = 5;
  opt.overlap_tokens = 0;
  auto chunks = chunk_text("Page one text.\fPage two text.\n\nMore on two.\fThree.", opt);
  std::vector<int32_t> pages;
  for (auto& c : chunks) pages.push_back(c.page);
  EXPECT_EQ(pages, (std::vector<int32_t>{1, 2, 2, 3}));
  EXPECT_EQ(chunk_text("no form feeds", {})[0].page, 0);
}

}  // namespace
}  // namespace dkb::kb
