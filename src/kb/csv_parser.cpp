// CSV/TSV → text with libcsv (see kb/parsers.h): a header row, then one paragraph of
// "column: value" lines per data row.
#include <csv.h>

#include <algorithm>

#include "kb/parsers.h"

namespace dkb::kb {
namespace {

struct CsvState {
  std::vector<std::string> header;
  std::vector<std::string> fields;  // of the record being read
  ParsedDocument* doc = nullptr;
  size_t rows = 0;  // data rows seen
  Status error;
};

void on_field(void* data, size_t len, void* state) {
  auto* s = static_cast<CsvState*>(state);
  s->fields.emplace_back(data ? static_cast<const char*>(data) : "", data ? len : 0);
}

void on_record(int, void* state) {
  auto* s = static_cast<CsvState*>(state);
  std::vector<std::string> fields = std::move(s->fields);
  s->fields.clear();
  if (!s->error.is_ok()) return;
  if (s->header.empty()) {
    bool any = false;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].empty()) fields[i] = "column " + std::to_string(i + 1);
      else any = true;
    }
    if (!any) {
      s->error = invalid_argument("CSV header row is empty");
      return;
    }
    s->header = std::move(fields);
    return;
  }
  ++s->rows;
  if (fields.size() > s->header.size()) {
    s->error = invalid_argument("CSV row " + std::to_string(s->rows) + " has " +
                                std::to_string(fields.size()) + " fields, the header has " +
                                std::to_string(s->header.size()));
    return;
  }
  std::string para;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].empty()) continue;
    std::string value = fields[i];
    // A value's own line breaks would read as paragraph breaks to the chunker.
    for (char& c : value) {
      if (c == '\n' || c == '\r' || c == '\f') c = ' ';
    }
    para += s->header[i] + ": " + value + "\n";
  }
  if (para.empty()) return;  // a blank record
  std::string& text = s->doc->text;
  if (!text.empty()) text += "\n";
  s->doc->row_starts.push_back(text.size());
  text += para;
}

}  // namespace

Result<ParsedDocument> parse_csv(std::string_view content, char delimiter) {
  DKB_RETURN_IF_ERROR(check_utf8(content));
  if (content.starts_with("\xEF\xBB\xBF")) content.remove_prefix(3);  // BOM
  csv_parser p;
  if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
    return internal_error("libcsv: cannot initialise the parser");
  }
  csv_set_delim(&p, static_cast<unsigned char>(delimiter));
  ParsedDocument doc;
  CsvState state;
  state.doc = &doc;
  size_t used = csv_parse(&p, content.data(), content.size(), on_field, on_record, &state);
  Status parse_error;
  auto where = [&](size_t offset) {
    size_t line = 1 + std::count(content.begin(), content.begin() + offset, '\n');
    return " (line " + std::to_string(line) + ", byte " + std::to_string(offset) + ")";
  };
  if (used != content.size()) {
    parse_error = invalid_argument(std::string("CSV is malformed: ") +
                                   csv_strerror(csv_error(&p)) + where(used));
  } else if (csv_fini(&p, on_field, on_record, &state) != 0) {
    parse_error = invalid_argument(std::string("CSV is malformed: ") +
                                   csv_strerror(csv_error(&p)) +
                                   " (unterminated quoted field at the end)");
  }
  csv_free(&p);
  DKB_RETURN_IF_ERROR(parse_error);
  DKB_RETURN_IF_ERROR(state.error);
  if (state.header.empty()) return invalid_argument("CSV is empty");
  if (doc.row_starts.empty()) return invalid_argument("CSV has a header but no data rows");
  doc.metadata["csv.columns"] = state.header;
  doc.metadata["csv.rows"] = doc.row_starts.size();
  return doc;
}

}  // namespace dkb::kb
