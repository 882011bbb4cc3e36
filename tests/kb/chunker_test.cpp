#include "kb/chunker.h"

#include <gtest/gtest.h>

#include <algorithm>

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

using Path = std::vector<std::string>;

std::vector<Path> paths_of(const std::vector<ChunkDraft>& chunks) {
  std::vector<Path> out;
  for (const auto& c : chunks) out.push_back(c.heading_path);
  return out;
}

void expect_exact_offsets(std::string_view text, const std::vector<ChunkDraft>& chunks) {
  for (const auto& c : chunks) {
    EXPECT_EQ(text.substr(c.start, c.end - c.start), c.text);
    EXPECT_TRUE(utf8::is_valid(c.text));
  }
}

TEST(Chunker, SetextHeadings) {
  std::string md =
      "Guide\n=====\n\nIntro paragraph.\n\nSetup steps\nin two lines\n---\n\nInstall it.\n\n"
      "# Next\n\nMore.\n";
  auto chunks = chunk_text(md, {});
  expect_exact_offsets(md, chunks);
  EXPECT_EQ(paths_of(chunks),
            (std::vector<Path>{{"Guide"}, {"Guide", "Setup steps in two lines"}, {"Next"}}));
  EXPECT_EQ(chunks[0].text, "Guide\n=====\n\nIntro paragraph.");
  EXPECT_EQ(chunks[1].text, "Setup steps\nin two lines\n---\n\nInstall it.");
}

TEST(Chunker, HeadingLikeLinesInCodeBlocksAreCode) {
  std::string md =
      "# Script\n\n"
      "```sh\n# install deps\napt-get install foo\n\n# run it\n./foo --bar\n```\n\n"
      "    # indented code\n\n"
      "After code.\n";
  ChunkerOptions opt;
  opt.overlap_tokens = 0;
  auto chunks = chunk_text(md, opt);
  expect_exact_offsets(md, chunks);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].heading_path, (Path{"Script"}));

  // A code block that fits is never split, not even at its blank line.
  std::string fence = "```sh\n# install deps\napt-get install foo\n\n# run it\n./foo --bar\n```";
  opt.max_tokens = approx_token_count(fence);
  chunks = chunk_text(md, opt);
  expect_exact_offsets(md, chunks);
  for (const auto& c : chunks) EXPECT_EQ(c.heading_path, (Path{"Script"})) << c.text;
  bool whole = false;
  for (const auto& c : chunks) whole = whole || c.text.find(fence) != std::string::npos;
  EXPECT_TRUE(whole);

  // Headings inside a block quote or a list item are part of it, not new sections.
  auto nested = chunk_text("# Top\n\n> # Quoted\n\n- # Item\n  ---\n\nText.\n", {});
  ASSERT_EQ(nested.size(), 1u);
  EXPECT_EQ(nested[0].heading_path, (Path{"Top"}));

  // Over budget, code is cut at line ends only.
  opt.max_tokens = 6;
  chunks = chunk_text(md, opt);
  expect_exact_offsets(md, chunks);
  for (const auto& c : chunks) {
    EXPECT_TRUE(c.start == 0 || md[c.start - 1] == '\n' || md[c.start - 1] == ' ') << c.text;
    EXPECT_TRUE(c.end == md.size() || md[c.end] == '\n') << c.text;
    EXPECT_EQ(c.heading_path, (Path{"Script"}));
  }
}

TEST(Chunker, NestedListsSplitAtItems) {
  std::string md =
      "# Shopping\n\n"
      "- Fruit: apples, pears and plums from the market.\n"
      "  - Apples: the red ones, two kilograms.\n"
      "  - Pears: ripe, six of them.\n"
      "- Bread: one loaf of rye from the baker.\n"
      "  1. Ask for it sliced.\n"
      "  2. Pay with cash.\n\n"
      "Done.\n";
  auto whole = chunk_text(md, {});
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0].heading_path, (Path{"Shopping"}));

  ChunkerOptions opt;
  opt.max_tokens = 16;
  opt.overlap_tokens = 0;
  auto chunks = chunk_text(md, opt);
  expect_exact_offsets(md, chunks);
  ASSERT_GE(chunks.size(), 4u);
  for (const auto& c : chunks) {
    EXPECT_LE(approx_token_count(c.text), 16u) << c.text;
    // Every chunk starts at a line's first non-blank byte: items, not mid-sentence cuts.
    size_t line_start = md.rfind('\n', c.start == 0 ? 0 : c.start - 1);
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    EXPECT_EQ(md.find_first_not_of(' ', line_start), c.start) << c.text;
  }
  std::vector<std::string> starts;
  for (const auto& c : chunks) starts.push_back(c.text.substr(0, 8));
  EXPECT_NE(std::find(starts.begin(), starts.end(), "- Apples"), starts.end());
  EXPECT_NE(std::find(starts.begin(), starts.end(), "- Bread:"), starts.end());
  EXPECT_TRUE(chunks.back().text.ends_with("Pay with cash.\n\nDone.")) << chunks.back().text;
}

TEST(Chunker, CrlfInput) {
  std::string md =
      "# Title\r\n\r\nFirst para\r\nstill first.\r\n\r\nSub\r\n---\r\n\r\n```\r\n# code\r\n```\r\n";
  auto chunks = chunk_text(md, {});
  expect_exact_offsets(md, chunks);
  EXPECT_EQ(paths_of(chunks), (std::vector<Path>{{"Title"}, {"Title", "Sub"}}));
  EXPECT_EQ(chunks[0].text, "# Title\r\n\r\nFirst para\r\nstill first.");
  EXPECT_EQ(chunks[1].text, "Sub\r\n---\r\n\r\n```\r\n# code\r\n```");
}

TEST(Chunker, UnterminatedFenceAndLoneRulesAreText) {
  std::string md = "# A\n\nText.\n\n```\ncode\n# B\n\n## C\n";
  auto chunks = chunk_text(md, {});
  expect_exact_offsets(md, chunks);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].heading_path, (Path{"A"}));
  EXPECT_EQ(chunks[0].text, "# A\n\nText.\n\n```\ncode\n# B\n\n## C");

  for (std::string lone : {"---", "---\n", "***\n\n---\n", "Text\n\n---\n\nMore\n\n---"}) {
    chunks = chunk_text(lone, {});
    ASSERT_EQ(chunks.size(), 1u) << lone;
    EXPECT_EQ(chunks[0].heading_path, Path{}) << lone;
  }
  // A "---" under a paragraph line makes it a setext heading (CommonMark).
  EXPECT_EQ(chunk_text("Text\n---\nMore\n", {})[0].heading_path, (Path{"Text"}));
  // Link reference definitions are outside cmark's tree but still text.
  chunks = chunk_text("[docs]: https://example.com/docs \"Docs\"\n", {});
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, "[docs]: https://example.com/docs \"Docs\"");
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
