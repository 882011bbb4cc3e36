// Format detection (extension, declared type, magic bytes) and dispatch to the parsers.
#include <algorithm>

#include "kb/parsers.h"

namespace dkb::kb {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_pdf(std::string_view bytes) {
  // The header may follow a little junk (the PDF spec allows it within the first 1 KiB).
  return bytes.substr(0, 1024).find("%PDF-") != std::string_view::npos;
}
bool is_zip(std::string_view bytes) { return bytes.starts_with("PK\x03\x04"); }

}  // namespace

Result<Format> format_from_path(std::string_view path) {
  size_t dot = path.rfind('.');
  size_t slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return invalid_argument("cannot tell the format of " + std::string(path) + " (no extension)");
  }
  std::string ext = lower(path.substr(dot + 1));
  if (ext == "txt" || ext == "text") return Format::kText;
  if (ext == "md" || ext == "markdown") return Format::kMarkdown;
  if (ext == "html" || ext == "htm") return Format::kHtml;
  if (ext == "json") return Format::kJson;
  if (ext == "pdf") return Format::kPdf;
  if (ext == "docx") return Format::kDocx;
  if (ext == "csv") return Format::kCsv;
  if (ext == "tsv") return Format::kTsv;
  return invalid_argument("unsupported document format ." + ext + " (" + std::string(path) + ")");
}

Result<Format> format_from_name(std::string_view name) {
  std::string n = lower(name.substr(0, name.find(';')));  // drop "; charset=..."
  while (!n.empty() && n.back() == ' ') n.pop_back();
  if (n == "text" || n == "txt" || n == "text/plain") return Format::kText;
  if (n == "markdown" || n == "md" || n == "text/markdown" || n == "text/x-markdown")
    return Format::kMarkdown;
  if (n == "html" || n == "htm" || n == "text/html" || n == "application/xhtml+xml")
    return Format::kHtml;
  if (n == "json" || n == "application/json") return Format::kJson;
  if (n == "pdf" || n == "application/pdf") return Format::kPdf;
  if (n == "docx" ||
      n == "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    return Format::kDocx;
  if (n == "csv" || n == "text/csv") return Format::kCsv;
  if (n == "tsv" || n == "text/tab-separated-values") return Format::kTsv;
  return invalid_argument("unknown document format '" + std::string(name) +
                          "' (text, markdown, html, json, pdf, docx, csv, tsv)");
}

std::string_view format_name(Format f) {
  switch (f) {
    case Format::kText: return "text";
    case Format::kMarkdown: return "markdown";
    case Format::kHtml: return "html";
    case Format::kJson: return "json";
    case Format::kPdf: return "pdf";
    case Format::kDocx: return "docx";
    case Format::kCsv: return "csv";
    case Format::kTsv: return "tsv";
  }
  return "unknown";
}

bool format_is_binary(Format f) { return f == Format::kPdf || f == Format::kDocx; }

Result<Format> detect_format(std::string_view filename, std::string_view content_type,
                             std::string_view content) {
  Result<Format> claimed = invalid_argument("no file name or content type");
  if (!filename.empty()) claimed = format_from_path(filename);
  std::string type = lower(content_type);
  if (!claimed.is_ok() && !type.empty() && !type.starts_with("application/octet-stream")) {
    claimed = format_from_name(type);
  }
  const std::string who = filename.empty() ? std::string("upload") : std::string(filename);
  if (claimed.is_ok()) {
    if (*claimed == Format::kPdf && !is_pdf(content))
      return invalid_argument(who + " is not a PDF: no %PDF- header");
    if (*claimed == Format::kDocx && !is_zip(content))
      return invalid_argument(who + " is not a DOCX: not a zip archive");
    if (is_pdf(content.substr(0, 8)) && !format_is_binary(*claimed)) return Format::kPdf;
    return claimed;
  }
  if (is_pdf(content.substr(0, 8))) return Format::kPdf;
  if (is_zip(content)) return Format::kDocx;  // parse_docx reports a zip that is not a DOCX
  if (filename.empty() && check_utf8(content).is_ok()) return Format::kText;
  return claimed.status();
}

Result<ParsedDocument> parse_document(std::string_view content, Format format) {
  switch (format) {
    case Format::kText: {
      DKB_RETURN_IF_ERROR(check_utf8(content));
      ParsedDocument doc;
      doc.text = std::string(content);
      return doc;
    }
    case Format::kMarkdown: return parse_markdown(content);
    case Format::kHtml: return parse_html(content);
    case Format::kJson: return parse_json_document(content);
    case Format::kPdf: return parse_pdf(content);
    case Format::kDocx: return parse_docx(content);
    case Format::kCsv: return parse_csv(content, ',');
    case Format::kTsv: return parse_csv(content, '\t');
  }
  return invalid_argument("unknown format");
}

}  // namespace dkb::kb
