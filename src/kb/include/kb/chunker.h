// Structure-aware, token-budgeted chunking of plain text and Markdown.
//
// Splitting order. Markdown (options.markdown, the Markdown body without front matter; HTML and
// DOCX text is Markdown too) is parsed by cmark (kb/markdown_outline.h): top-level ATX and setext
// headings start sections and set each chunk's heading path (a '#' line inside a code block, a
// block quote or a list item is not a section heading); a section's units are its top-level
// blocks — paragraphs, lists, block quotes, code blocks, HTML blocks, thematic breaks — each
// kept whole while it fits the budget. A block over budget is split: a list into its items, an
// item or block quote into its blocks (recursively), a code or HTML block at line ends, prose
// into sentences. Plain text: one section of blank-line separated paragraphs. Sentence ends are
// . ! ? followed by whitespace, and 。！？；． (full-width) anywhere, each keeping trailing
// closing quotes/brackets; a sentence (or code line) over budget is cut at code-point
// boundaries. Units are packed greedily up to max_tokens; consecutive chunks of a section share
// up to overlap_tokens of trailing units. A heading that does not fit together with the text
// after it is left out of the chunk text (it stays in heading_path) rather than becoming a chunk
// of its own.
// Chunk text is always a contiguous slice of the input (start/end are byte offsets), so it
// never splits a UTF-8 character; Markdown markup stays in it (why: kb/markdown_outline.h).
// Chunks never span sections or page breaks (form feeds).
// Whitespace-only input → none. Token counts come from `count_tokens` (the embedding model's
// tokenizer plugs in here); the default approx_token_count() counts one per CJK character plus
// ⌈bytes/4⌉ of the rest. Thread-safety: pure functions (count_tokens must be callable concurrently
// if shared).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace dkb::kb {

using TokenCounter = std::function<size_t(std::string_view)>;

size_t approx_token_count(std::string_view text);

struct ChunkerOptions {
  size_t max_tokens = 256;
  size_t overlap_tokens = 32;
  TokenCounter count_tokens;  // null → approx_token_count
  bool markdown = true;       // parse as Markdown (cmark): headings, blocks, code
};

struct ChunkDraft {
  std::string text;
  std::vector<std::string> heading_path;
  size_t start = 0;  // byte offsets into the chunked text
  size_t end = 0;
  int32_t page = 0;  // 1-based page of `start` when the text has form feeds (\f, as from
                     // pdftotext), else 0
};

std::vector<ChunkDraft> chunk_text(std::string_view text, const ChunkerOptions& options);

}  // namespace dkb::kb
