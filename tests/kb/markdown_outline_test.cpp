// cmark's block structure as byte ranges: headings (ATX, setext), containers, code, and the
// offset mapping under CRLF, CR, BOM, NUL, tabs and multi-byte UTF-8.
#include "kb/markdown_outline.h"

#include <gtest/gtest.h>

#include <random>

#include "base/utf8.h"
#include "kb/chunker.h"

namespace dkb::kb {
namespace {

using K = MarkdownBlockKind;
using namespace std::string_literals;

std::string slice(std::string_view text, const MarkdownBlock& b) {
  return std::string(text.substr(b.start, b.end - b.start));
}

std::vector<K> kinds(const std::vector<MarkdownBlock>& blocks) {
  std::vector<K> out;
  for (const auto& b : blocks) out.push_back(b.kind);
  return out;
}

// Every range is inside the text, ordered, trimmed and on code-point boundaries.
void expect_well_formed(std::string_view text, const std::vector<MarkdownBlock>& blocks,
                        size_t floor = 0) {
  size_t prev = floor;
  for (const auto& b : blocks) {
    EXPECT_LE(prev, b.start);
    EXPECT_LT(b.start, b.end);
    EXPECT_LE(b.end, text.size());
    std::string s = slice(text, b);
    EXPECT_TRUE(utf8::is_valid(s)) << s;
    EXPECT_NE(s.front(), ' ');
    EXPECT_NE(s.back(), '\n');
    expect_well_formed(text, b.children, b.start);
    prev = b.end;
  }
}

TEST(MarkdownOutline, AtxAndSetextHeadingsWithTheirTitles) {
  std::string md =
      "# One #\n\nText.\n\nTwo words\nand more\n=========\n\n## C#\n\nSub\n---\n\n"
      "###### Six ######   \n#Not a heading\n\n####### seven\n\n# \\#escaped \\#\n";
  auto o = outline_markdown(md);
  expect_well_formed(md, o.blocks);
  std::vector<std::pair<int, std::string>> headings;
  for (const auto& b : o.blocks) {
    if (b.kind == K::kHeading) headings.emplace_back(b.heading_level, b.title);
  }
  EXPECT_EQ(headings, (std::vector<std::pair<int, std::string>>{{1, "One"},
                                                                {1, "Two words and more"},
                                                                {2, "C#"},
                                                                {2, "Sub"},
                                                                {6, "Six"},
                                                                {1, "\\#escaped \\#"}}));
  EXPECT_EQ(slice(md, o.blocks[2]), "Two words\nand more\n=========");  // setext: both lines
  // "#Not a heading" (no space) and seven '#' are paragraph text.
  EXPECT_EQ(slice(md, o.blocks[6]), "#Not a heading");
  EXPECT_EQ(slice(md, o.blocks[7]), "####### seven");
}

TEST(MarkdownOutline, CodeBlocksHideHeadingsAndAreListed) {
  std::string md =
      "Intro\n\n```bash\n# not a heading\n\n## nor this\n```\n\n"
      "    # indented code\n\n~~~~\n# tilde\n~~~\n~~~~\n\n- item\n\n  ```\n  # in a list\n  ```\n";
  auto o = outline_markdown(md);
  expect_well_formed(md, o.blocks);
  EXPECT_EQ(kinds(o.blocks),
            (std::vector<K>{K::kParagraph, K::kCode, K::kCode, K::kCode, K::kList}));
  EXPECT_EQ(slice(md, o.blocks[1]), "```bash\n# not a heading\n\n## nor this\n```");
  EXPECT_EQ(slice(md, o.blocks[2]), "# indented code");
  EXPECT_EQ(slice(md, o.blocks[3]), "~~~~\n# tilde\n~~~\n~~~~");  // ~~~ is too short to close
  ASSERT_EQ(o.code.size(), 4u);  // the one inside the list item too
  EXPECT_EQ(md.substr(o.code[3].start, o.code[3].end - o.code[3].start),
            "```\n  # in a list\n  ```");
}

TEST(MarkdownOutline, NestedListsAndBlockQuotes) {
  std::string md = "- a\n  - b\n    - c\n\n      more c\n- d\n\n> quote\n>\n> - q1\n";
  auto o = outline_markdown(md);
  expect_well_formed(md, o.blocks);
  ASSERT_EQ(kinds(o.blocks), (std::vector<K>{K::kList, K::kBlockQuote}));
  const MarkdownBlock& list = o.blocks[0];
  EXPECT_EQ(slice(md, list), "- a\n  - b\n    - c\n\n      more c\n- d");
  ASSERT_EQ(kinds(list.children), (std::vector<K>{K::kItem, K::kItem}));
  const MarkdownBlock& a = list.children[0];
  ASSERT_EQ(kinds(a.children), (std::vector<K>{K::kParagraph, K::kList}));
  const MarkdownBlock& c = a.children[1].children[0].children[1].children[0];
  EXPECT_EQ(c.kind, K::kItem);
  EXPECT_EQ(slice(md, c), "- c\n\n      more c");
  EXPECT_EQ(kinds(o.blocks[1].children), (std::vector<K>{K::kParagraph, K::kList}));

  // Headings inside containers are blocks of their container (not top-level sections).
  std::string quoted = "> Quoted\n> > title\n> > ---\n> # Atx in quote\n";
  o = outline_markdown(quoted);
  ASSERT_EQ(kinds(o.blocks), (std::vector<K>{K::kBlockQuote}));
  ASSERT_EQ(kinds(o.blocks[0].children),
            (std::vector<K>{K::kParagraph, K::kBlockQuote, K::kHeading}));
  const MarkdownBlock& inner = o.blocks[0].children[1].children.at(0);
  EXPECT_EQ(inner.kind, K::kHeading);
  EXPECT_EQ(inner.title, "title");
  EXPECT_EQ(slice(quoted, inner), "title\n> > ---");
  EXPECT_EQ(o.blocks[0].children[2].title, "Atx in quote");
  std::string multi = "> Multi\n> line\n> ===\n";
  o = outline_markdown(multi);
  ASSERT_EQ(o.blocks[0].children.size(), 1u);
  EXPECT_EQ(o.blocks[0].children[0].title, "Multi line");
  EXPECT_EQ(slice(multi, o.blocks[0].children[0]), "Multi\n> line\n> ===");
  EXPECT_EQ(o.blocks[0].children[0].heading_level, 1);
}

TEST(MarkdownOutline, OffsetsUnderCrlfCrBomNulTabsAndCjk) {
  // CRLF, with a BOM and CJK on the heading line.
  std::string crlf =
      "\xEF\xBB\xBF# 模型 库\r\n\r\n第一段。\r\n\tstill 第一段\r\n\r\nTitle 二\r\n===\r\n";
  auto o = outline_markdown(crlf);
  expect_well_formed(crlf, o.blocks);
  ASSERT_EQ(kinds(o.blocks), (std::vector<K>{K::kHeading, K::kParagraph, K::kHeading}));
  EXPECT_EQ(o.blocks[0].start, 3u);
  EXPECT_EQ(o.blocks[0].title, "模型 库");
  EXPECT_EQ(slice(crlf, o.blocks[1]), "第一段。\r\n\tstill 第一段");
  EXPECT_EQ(o.blocks[2].title, "Title 二");
  EXPECT_EQ(slice(crlf, o.blocks[2]), "Title 二\r\n===");

  // Old Mac line ends (lone CR) are line ends to cmark; so they are here.
  std::string cr = "# A\r\rpara\r\r## B\rtext";
  o = outline_markdown(cr);
  ASSERT_EQ(kinds(o.blocks),
            (std::vector<K>{K::kHeading, K::kParagraph, K::kHeading, K::kParagraph}));
  EXPECT_EQ(slice(cr, o.blocks[1]), "para");
  EXPECT_EQ(o.blocks[2].title, "B");
  EXPECT_EQ(slice(cr, o.blocks[3]), "text");

  // cmark widens NUL to U+FFFD; the offsets after it on the same line stay exact.
  std::string nul = "a\0b\0c paragraph\n\n# Head\0ing\n\n- x\0\0 [y]\n"s;
  o = outline_markdown(nul);
  expect_well_formed(nul, o.blocks);
  ASSERT_EQ(kinds(o.blocks), (std::vector<K>{K::kParagraph, K::kHeading, K::kList}));
  EXPECT_EQ(slice(nul, o.blocks[0]), "a\0b\0c paragraph"s);
  EXPECT_EQ(o.blocks[1].title, "Head\0ing"s);
  EXPECT_EQ(slice(nul, o.blocks[2]), "- x\0\0 [y]"s);
}

TEST(MarkdownOutline, TextOutsideTheTreeAndMalformedInput) {
  // Link reference definitions leave cmark's tree; their text is kept as kText.
  std::string md = "[home]: https://example.com\n\nSee [home].\n\n[x]: /x \"X\"\n";
  auto o = outline_markdown(md);
  ASSERT_EQ(kinds(o.blocks), (std::vector<K>{K::kText, K::kParagraph, K::kText}));
  EXPECT_EQ(slice(md, o.blocks[0]), "[home]: https://example.com");
  EXPECT_EQ(slice(md, o.blocks[2]), "[x]: /x \"X\"");

  // An unterminated fence runs to the end; a lone "---" is a thematic break.
  std::string open = "Text\n\n```\n# still code\n\n## also code";
  o = outline_markdown(open);
  ASSERT_EQ(kinds(o.blocks), (std::vector<K>{K::kParagraph, K::kCode}));
  EXPECT_EQ(slice(open, o.blocks[1]), "```\n# still code\n\n## also code");
  EXPECT_EQ(kinds(outline_markdown("---").blocks), (std::vector<K>{K::kThematicBreak}));
  EXPECT_EQ(kinds(outline_markdown("a\n\n---\n\nb").blocks),
            (std::vector<K>{K::kParagraph, K::kThematicBreak, K::kParagraph}));
  EXPECT_TRUE(outline_markdown("").blocks.empty());
  EXPECT_TRUE(outline_markdown(" \n\t\r\n").blocks.empty());

  // Deep nesting is cut off at kMarkdownMaxDepth, not recursed without bound.
  std::string deep(10000, '>');
  deep += " bottom";
  o = outline_markdown(deep);
  ASSERT_EQ(o.blocks.size(), 1u);
  int depth = 0;
  for (const MarkdownBlock* b = &o.blocks[0]; !b->children.empty(); b = &b->children[0]) ++depth;
  EXPECT_LT(depth, kMarkdownMaxDepth);
}

// Random Markdown-ish input: the outline is well formed, and with a budget large enough for any
// section no non-whitespace byte is left out of the chunks (headings, markers, link reference
// definitions and unterminated constructs included).
TEST(MarkdownOutline, RandomInputsKeepEveryByte) {
  std::mt19937 rng(6);
  const std::vector<std::string> pieces = {
      "# ",          "## ",   "\n",     "\r\n",  "\r",  "\n\n", "    ", "\t",  "> ",
      "- ",          "* ",    "1. ",    "2) ",   "---", "===",  "***",  "```", "~~~",
      "`",           "<div>", "</div>", "<!--",  "-->", "[a]:", " /u",  "[a]", "模型",
      "é",           "。",    "text",   "word ", "\\",  "#",    "|",    "\f",  std::string("\0", 1),
      "\xEF\xBB\xBF"};
  for (int iter = 0; iter < 1000; ++iter) {
    std::string s;
    int n = static_cast<int>(rng() % 120);
    for (int i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
    auto o = outline_markdown(s);
    expect_well_formed(s, o.blocks);
    size_t prev = 0;
    for (const auto& c : o.code) {
      EXPECT_LE(prev, c.start);
      EXPECT_LT(c.start, c.end);
      EXPECT_LE(c.end, s.size());
      prev = c.end;
    }
    std::vector<bool> covered(s.size(), false);
    for (const auto& b : o.blocks)
      std::fill(covered.begin() + b.start, covered.begin() + b.end, true);
    ChunkerOptions opt;
    opt.max_tokens = 1 << 20;
    std::vector<bool> chunked(s.size(), false);
    for (const auto& c : chunk_text(s, opt)) {
      EXPECT_EQ(s.substr(c.start, c.end - c.start), c.text);
      std::fill(chunked.begin() + c.start, chunked.begin() + c.end, true);
    }
    for (size_t i = 0; i < s.size(); ++i) {
      char ch = s[i];
      bool space = ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f' || ch == '\v';
      if (space || (i < 3 && s.starts_with("\xEF\xBB\xBF"))) continue;
      EXPECT_TRUE(covered[i]) << "byte " << i
                              << " outside the outline of: " << testing::PrintToString(s);
      EXPECT_TRUE(chunked[i]) << "byte " << i
                              << " outside the chunks of: " << testing::PrintToString(s);
    }
    opt.max_tokens = 1 + rng() % 12;
    opt.overlap_tokens = rng() % 4;
    for (const auto& c : chunk_text(s, opt)) {
      EXPECT_EQ(s.substr(c.start, c.end - c.start), c.text);
      EXPECT_TRUE(utf8::is_valid(c.text));
    }
  }
}

}  // namespace
}  // namespace dkb::kb
