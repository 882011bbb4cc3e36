// JSON documents → text (see kb/parsers.h): one "path: value" line per scalar; the elements of
// a top-level array become separate paragraphs so the chunker keeps records together.
#include <string>

#include "kb/parsers.h"

namespace dkb::kb {
namespace {

using OJson = nlohmann::ordered_json;  // keeps the document's key order

constexpr int kMaxDepth = 64;

std::string scalar_text(const OJson& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

Status render(const OJson& v, const std::string& path, std::string& out, int depth) {
  if (depth > kMaxDepth) return invalid_argument("JSON nested deeper than 64 levels");
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      DKB_RETURN_IF_ERROR(
          render(it.value(), path.empty() ? it.key() : path + "." + it.key(), out, depth + 1));
    }
  } else if (v.is_array()) {
    bool scalars = true;
    for (const auto& e : v) scalars = scalars && !e.is_structured();
    if (scalars) {
      std::string line;
      for (const auto& e : v) line += (line.empty() ? "" : ", ") + scalar_text(e);
      out += (path.empty() ? "" : path + ": ") + line + "\n";
      return Status::ok();
    }
    for (size_t i = 0; i < v.size(); ++i) {
      DKB_RETURN_IF_ERROR(render(v[i], path + "[" + std::to_string(i) + "]", out, depth + 1));
    }
  } else if (!v.is_null()) {
    out += (path.empty() ? "" : path + ": ") + scalar_text(v) + "\n";
  }
  return Status::ok();
}

}  // namespace

Result<ParsedDocument> parse_json_document(std::string_view content) {
  DKB_RETURN_IF_ERROR(check_utf8(content));
  OJson j = OJson::parse(content, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid_argument("not valid JSON");
  ParsedDocument doc;
  if (j.is_array()) {
    for (const auto& record : j) {
      std::string part;
      DKB_RETURN_IF_ERROR(render(record, "", part, 1));
      if (!part.empty()) doc.text += part + "\n";
    }
  } else {
    DKB_RETURN_IF_ERROR(render(j, "", doc.text, 0));
    if (j.is_object() && j.contains("title") && j["title"].is_string()) {
      doc.title = j["title"].get<std::string>();
    }
  }
  return doc;
}

}  // namespace dkb::kb
