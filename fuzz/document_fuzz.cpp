// libFuzzer target for the document parsers (DESIGN §7): the first byte picks the format,
// the rest is the document. Every input must give a ParsedDocument or an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kb/parsers.h"
#include "kb/vault_note.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 9) {
    case 0: (void)dkb::kb::parse_document(body, dkb::kb::Format::kText); break;
    case 1: (void)dkb::kb::parse_document(body, dkb::kb::Format::kMarkdown); break;
    case 2: (void)dkb::kb::parse_document(body, dkb::kb::Format::kHtml); break;
    case 3: (void)dkb::kb::parse_document(body, dkb::kb::Format::kJson); break;
    case 4: (void)dkb::kb::parse_document(body, dkb::kb::Format::kPdf); break;
    case 5: (void)dkb::kb::parse_document(body, dkb::kb::Format::kDocx); break;
    case 6: (void)dkb::kb::parse_document(body, dkb::kb::Format::kCsv); break;
    case 7: (void)dkb::kb::parse_vault_note("note.md", body); break;
    default: (void)dkb::kb::detect_format("", "", body); break;
  }
  return 0;
}
