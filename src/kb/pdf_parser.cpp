// PDF → text with poppler-cpp (see kb/parsers.h): one form feed between pages so the chunker
// knows each chunk's page.
#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-page.h>

#include <climits>
#include <memory>
#include <mutex>

#include "kb/parsers.h"

namespace dkb::kb {
namespace {

std::string utf8_of(const poppler::ustring& u) {
  poppler::byte_array bytes = u.to_utf8();
  return std::string(bytes.begin(), bytes.end());
}

// poppler reports recoverable syntax errors on stderr by default; a server should not echo
// every damaged upload there. The load result is what decides.
void quiet(const std::string&, void*) {}

}  // namespace

Result<ParsedDocument> parse_pdf(std::string_view bytes) {
  if (bytes.substr(0, 1024).find("%PDF-") == std::string_view::npos) {
    return invalid_argument("not a PDF: no %PDF- header");
  }
  if (bytes.size() > static_cast<size_t>(INT_MAX)) return invalid_argument("PDF too large");
  static std::mutex mu;
  std::lock_guard lock(mu);
  static std::once_flag once;
  std::call_once(once, [] { poppler::set_debug_error_function(quiet, nullptr); });
  std::unique_ptr<poppler::document> pdf(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!pdf) return invalid_argument("PDF cannot be read (damaged or not a PDF)");
  if (pdf->is_locked()) return invalid_argument("PDF is encrypted (password protected)");
  int n_pages = pdf->pages();
  if (n_pages <= 0) return invalid_argument("PDF has no pages");

  ParsedDocument doc;
  doc.paged = true;
  bool any_text = false;
  for (int i = 0; i < n_pages; ++i) {
    if (i > 0) doc.text += '\f';
    std::unique_ptr<poppler::page> page(pdf->create_page(i));
    if (!page) continue;  // an unreadable page stays empty but keeps its number
    std::string text = utf8_of(page->text());
    // Form feeds inside a page would shift the page numbering.
    for (char& c : text) {
      if (c == '\f') c = '\n';
    }
    any_text = any_text || text.find_first_not_of(" \t\r\n") != std::string::npos;
    doc.text += text;
  }
  if (!any_text) return invalid_argument("PDF has no extractable text (scanned images?)");
  DKB_RETURN_IF_ERROR(check_utf8(doc.text).with_context("PDF text"));
  doc.title = utf8_of(pdf->get_title());
  doc.metadata["pdf.pages"] = n_pages;
  std::string author = utf8_of(pdf->get_author());
  if (!author.empty()) doc.metadata["author"] = author;
  return doc;
}

}  // namespace dkb::kb
