// Document parsers for ingestion: plain text, Markdown (YAML front matter), HTML, JSON, PDF,
// DOCX and CSV.
//
// Every parser takes untrusted bytes and returns a ParsedDocument or kInvalidArgument with
// the reason (invalid UTF-8 with its byte offset, malformed or unterminated front matter,
// unparseable HTML). Parsers never throw.
//  - Markdown: a front-matter block opens with "---" on the first line and closes with "---"
//    or "..."; its YAML (yaml-cpp) must be a mapping. Scalars become strings, numbers or
//    booleans (quoted scalars stay strings); sequences of scalars become arrays; nested
//    mappings are flattened to "outer.inner" keys; null values are dropped; other shapes are
//    stored as their JSON text. The body (after the block) is the document text; a "---"
//    first line with nothing after it is body text (a thematic break), but one followed by
//    text and never closed is an error. The body's structure (headings, blocks, code) is
//    cmark's, found by the chunker (kb/markdown_outline.h); chunk offsets are into the body.
//  - HTML (libxml2's tolerant HTML parser): <title> → title; script, style, nav, header,
//    footer, aside, form, noscript and template are dropped; <h1>..<h6> become Markdown ATX
//    headings and block elements become paragraphs, so the Markdown chunker keeps headings.
//  - JSON (nlohmann): one "dotted.path: value" line per scalar (arrays of scalars joined by
//    ", "); each element of a top-level array becomes its own paragraph; a top-level
//    "title" string becomes the title. Nesting is limited to 64 levels.
//  - PDF (poppler-cpp): the text of each page in reading order, pages separated by form feeds
//    so the chunker keeps page numbers (paged = true: a one-page PDF's chunks are on page 1).
//    Title and author from the document info; metadata "pdf.pages". Encrypted (locked) PDFs,
//    files without the %PDF- header and files poppler cannot load are kInvalidArgument.
//    Parsing is serialized by a process-wide mutex (poppler's global state).
//  - DOCX (libzip + libxml2): word/document.xml's body in order; paragraphs with a
//    Heading N / Title style (by style id or by name in word/styles.xml, or an outline level)
//    become Markdown headings so each chunk has its heading path; tables become one line per
//    row with cells joined by " | ". docProps/core.xml's dc:title / dc:creator → title and
//    metadata "author". A zip without word/document.xml, a part over 64 MiB uncompressed, or
//    malformed XML is kInvalidArgument.
//  - CSV (libcsv, RFC 4180 strict quoting; .tsv uses tabs): the first record is the header;
//    every later record becomes a paragraph of "column: value" lines (empty values skipped),
//    so the chunker groups as many rows per chunk as the token budget allows. Metadata
//    "csv.columns" (header names) and "csv.rows"; row_starts gives each row's offset so the
//    ingestor can tag every chunk with "row_start"/"row_end" (1-based data rows). A record
//    with more fields than the header, a malformed quote or an empty header is an error
//    naming the row.
// Thread-safety: pure functions (libxml2 is initialised once, thread-safely).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "kb/types.h"

namespace dkb::kb {

enum class Format { kText, kMarkdown, kHtml, kJson, kPdf, kDocx, kCsv, kTsv };

struct ParsedDocument {
  std::string text;   // body to chunk (Markdown-style headings for md/html)
  std::string title;  // from front matter "title", <title>, or empty
  Json metadata = Json::object();
  bool markdown = false;  // whether the chunker should recognise headings
  bool paged = false;     // pages separated by form feeds; every chunk gets a page >= 1
  std::vector<size_t> row_starts;  // CSV: byte offset in `text` of each data row, ascending
};

// Format from a file name's extension (.txt .text .md .markdown .htm .html .json .pdf .docx
// .csv .tsv), else kInvalidArgument.
Result<Format> format_from_path(std::string_view path);
// Format from a name ("markdown", "md", "pdf", ...) as used by the HTTP API, or a MIME type
// ("application/pdf", "text/csv", ...); kInvalidArgument otherwise.
Result<Format> format_from_name(std::string_view name);
std::string_view format_name(Format f);
// Decides the format of an upload from its file name, declared content type (may be empty or
// "application/octet-stream") and magic bytes: %PDF- is a PDF and a zip (PK\3\4) named .docx
// is a DOCX whatever the name says otherwise; a name claiming .pdf/.docx whose bytes are not a
// PDF/zip is kInvalidArgument ("... is not a PDF: no %PDF- header"). Without a usable name or
// type, valid UTF-8 falls back to text.
Result<Format> detect_format(std::string_view filename, std::string_view content_type,
                             std::string_view content);
// Whether the format is binary (sent base64-encoded in JSON bodies).
bool format_is_binary(Format f);

// Error when `text` is not valid UTF-8; names the first bad byte offset.
Status check_utf8(std::string_view text);

Result<Json> parse_front_matter_yaml(std::string_view yaml);
Result<ParsedDocument> parse_markdown(std::string_view text);
Result<ParsedDocument> parse_html(std::string_view html);
Result<ParsedDocument> parse_json_document(std::string_view content);
Result<ParsedDocument> parse_pdf(std::string_view bytes);
Result<ParsedDocument> parse_docx(std::string_view bytes);
Result<ParsedDocument> parse_csv(std::string_view content, char delimiter = ',');
Result<ParsedDocument> parse_document(std::string_view content, Format format);

}  // namespace dkb::kb
