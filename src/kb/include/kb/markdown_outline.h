// The block structure of a Markdown text, from cmark (libcmark, CommonMark 0.30), as exact byte
// ranges of that text. The chunker cuts sections at its headings and chunks at its blocks; vault
// notes skip its code blocks when looking for links and tags.
//
// Input: any bytes, meant to be a UTF-8 Markdown body. YAML front matter is not Markdown:
// parse_markdown removes it first, so offsets are into the body (ParsedDocument::text), and a
// "---" line here is a thematic break or a setext underline. Never fails, never throws: every
// input, malformed or unterminated constructs included, gives an outline (an unterminated code
// fence runs to the end of its container, as in CommonMark).
//
// Ranges: [start, end) byte offsets into the given text, trimmed of ASCII whitespace, never
// empty, on UTF-8 code-point boundaries, in document order; siblings do not overlap. cmark
// reports 1-based lines and 1-based byte columns; lines end at \n, \r\n or a lone \r as in cmark.
// A leading UTF-8 BOM (which cmark skips) and NUL bytes (which cmark widens to U+FFFD) are
// accounted for, so offsets stay exact.
//
// What is recognised:
//  - blocks: the top-level blocks. Headings, ATX and setext, carry level 1..6 and title.
//    Paragraphs, code blocks (fenced or indented), HTML blocks and thematic breaks are leaves;
//    lists, list items and block quotes carry their child blocks, down to kMarkdownMaxDepth levels
//    of nesting (deeper containers are leaves). Text that cmark keeps out of its tree (link
//    reference definitions) becomes kText blocks, one per blank-line separated run, so every
//    non-whitespace byte of the text lies in a top-level block. cmark core has no tables: a
//    pipe table is a paragraph.
//  - code: every code block at any depth, in document order.
// Inline markup is not interpreted (a deliberate choice): the text to index is the source
// slice, so chunk offsets are exact, code, URLs and link targets stay searchable, and the
// Markdown-style text written by the HTML and DOCX parsers (which do not escape * _ ` [) is
// never altered. Heading titles are source text too: an ATX title is the line without its
// opening and closing '#' sequences ("C#" keeps its '#', which needs no space before it to be
// text); a setext title is its content lines, each trimmed, joined by one space.
// Thread-safety: pure function.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dkb::kb {

enum class MarkdownBlockKind {
  kHeading,
  kParagraph,
  kCode,
  kHtml,
  kThematicBreak,
  kList,
  kItem,
  kBlockQuote,
  kText,  // source text outside cmark's tree (link reference definitions)
};

struct MarkdownBlock {
  MarkdownBlockKind kind = MarkdownBlockKind::kParagraph;
  size_t start = 0;  // byte range in the text, see above
  size_t end = 0;
  int heading_level = 0;                // 1..6 for kHeading, else 0
  std::string title;                    // kHeading: source text without the heading markers
  std::vector<MarkdownBlock> children;  // kList: items; kItem/kBlockQuote: blocks
};

struct ByteRange {
  size_t start = 0;
  size_t end = 0;
};

struct MarkdownOutline {
  std::vector<MarkdownBlock> blocks;  // top level
  std::vector<ByteRange> code;        // every code block, at any depth
};

inline constexpr int kMarkdownMaxDepth = 16;

MarkdownOutline outline_markdown(std::string_view text);

}  // namespace dkb::kb
