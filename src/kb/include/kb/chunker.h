// Structure-aware, token-budgeted chunking of plain text and Markdown.
//
// Splitting order: Markdown ATX headings (`#`..`######`, outside fenced code) start sections
// and set each chunk's heading path; within a section, paragraphs (blank-line separated);
// a paragraph over budget is split into sentences — ends are . ! ? followed by whitespace,
// and 。！？；！？ (full-width) anywhere, each keeping trailing closing quotes/brackets; a
// sentence over budget is cut at code-point boundaries. Units are packed greedily up to
// max_tokens; consecutive chunks of a section share up to overlap_tokens of trailing units. A
// heading line that does not fit together with the text after it is left out of the chunk text
// (it stays in heading_path) rather than becoming a chunk of its own.
// Chunk text is always a contiguous slice of the input (start/end are byte offsets), so it
// never splits a UTF-8 character. Chunks never span sections or page breaks (form feeds).
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
  bool markdown = true;       // recognise headings and code fences
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
