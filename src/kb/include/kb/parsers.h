// Document parsers for ingestion: plain text, Markdown (YAML front matter), HTML.
//
// Every parser takes untrusted bytes and returns a ParsedDocument or kInvalidArgument with
// the reason (invalid UTF-8 with its byte offset, malformed or unterminated front matter,
// unparseable HTML). Parsers never throw.
//  - Markdown: a front-matter block opens with "---" on the first line and closes with "---"
//    or "..."; its YAML (yaml-cpp) must be a mapping. Scalars become strings, numbers or
//    booleans (quoted scalars stay strings); sequences of scalars become arrays; nested
//    mappings are flattened to "outer.inner" keys; null values are dropped; other shapes are
//    stored as their JSON text. The body (after the block) is the document text.
//  - HTML (libxml2's tolerant HTML parser): <title> → title; script, style, nav, header,
//    footer, aside, form, noscript and template are dropped; <h1>..<h6> become Markdown ATX
//    headings and block elements become paragraphs, so the Markdown chunker keeps headings.
//  - JSON (nlohmann): one "dotted.path: value" line per scalar (arrays of scalars joined by
//    ", "); each element of a top-level array becomes its own paragraph; a top-level
//    "title" string becomes the title. Nesting is limited to 64 levels.
// Thread-safety: pure functions (libxml2 is initialised once, thread-safely).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "kb/types.h"

namespace dkb::kb {

enum class Format { kText, kMarkdown, kHtml, kJson };

struct ParsedDocument {
  std::string text;   // body to chunk (Markdown-style headings for md/html)
  std::string title;  // from front matter "title", <title>, or empty
  Json metadata = Json::object();
  bool markdown = false;  // whether the chunker should recognise headings
};

// Format from a file name's extension (.txt .text .md .markdown .htm .html .json), else
// kInvalidArgument.
Result<Format> format_from_path(std::string_view path);
std::string_view format_name(Format f);

// Error when `text` is not valid UTF-8; names the first bad byte offset.
Status check_utf8(std::string_view text);

Result<Json> parse_front_matter_yaml(std::string_view yaml);
Result<ParsedDocument> parse_markdown(std::string_view text);
Result<ParsedDocument> parse_html(std::string_view html);
Result<ParsedDocument> parse_json_document(std::string_view content);
Result<ParsedDocument> parse_document(std::string_view content, Format format);

}  // namespace dkb::kb
