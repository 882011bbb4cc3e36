// Markdown parsing: YAML front matter (yaml-cpp) → metadata; UTF-8 validation. The body's block
// structure is cmark's, read by the chunker through kb/markdown_outline.h.
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "base/utf8.h"
#include "kb/filter.h"
#include "kb/parsers.h"

namespace dkb::kb {
namespace {

Json yaml_scalar(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted: always a string
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s == "~" || s == "null" || s == "Null" || s == "NULL" || s.empty()) return nullptr;
  // Numbers: parse the whole scalar or keep it as a string (dates, versions, "1.2.3").
  if (!s.empty() &&
      (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '+')) {
    try {
      size_t used = 0;
      long long v = std::stoll(s, &used);
      if (used == s.size()) return v;
      double d = std::stod(s, &used);
      if (used == s.size()) return d;
    } catch (...) {
    }
  }
  return s;
}

Json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return yaml_scalar(n);
    case YAML::NodeType::Sequence: {
      Json arr = Json::array();
      for (const auto& e : n) arr.push_back(yaml_to_json(e));
      return arr;
    }
    case YAML::NodeType::Map: {
      Json obj = Json::object();
      for (const auto& kv : n) obj[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return obj;
    }
    default:
      return nullptr;
  }
}

void flatten_into(Json& out, const std::string& prefix, const Json& v) {
  if (v.is_null()) return;
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it)
      flatten_into(out, prefix + "." + it.key(), it.value());
    return;
  }
  if (v.is_array()) {
    bool scalars = !v.empty() && std::all_of(v.begin(), v.end(), [](const Json& e) {
      return e.is_string() || e.is_number() || e.is_boolean();
    });
    out[prefix] = scalars ? v : Json(v.dump());
    return;
  }
  out[prefix] = v;
}

}  // namespace

Status check_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t before = i;
    uint32_t cp = utf8::decode(text, i);
    if (cp == 0xFFFD && i - before != 3) {
      return invalid_argument("invalid UTF-8 at byte offset " + std::to_string(before));
    }
  }
  return Status::ok();
}

Result<Json> parse_front_matter_yaml(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return invalid_argument("front matter is not valid YAML (line " +
                            std::to_string(e.mark.line + 1) + "): " + e.msg);
  }
  if (root.IsNull()) return Json::object();
  if (!root.IsMap()) return invalid_argument("front matter must be a YAML mapping of key: value");
  Json meta = Json::object();
  try {
    Json j = yaml_to_json(root);
    for (auto it = j.begin(); it != j.end(); ++it) flatten_into(meta, it.key(), it.value());
  } catch (const YAML::Exception& e) {
    return invalid_argument(std::string("front matter: ") + e.what());
  }
  Status s = validate_metadata(meta);
  if (!s.is_ok()) return s.with_context("front matter");
  return meta;
}

Result<ParsedDocument> parse_markdown(std::string_view text) {
  DKB_RETURN_IF_ERROR(check_utf8(text));
  ParsedDocument doc;
  doc.markdown = true;
  std::string_view body = text;
  if (body.starts_with("\xEF\xBB\xBF")) body.remove_prefix(3);  // BOM
  auto first_line_end = body.find('\n');
  std::string_view first = body.substr(0, first_line_end);
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
  // A "---" with nothing after it is a lone thematic break, Markdown text, not front matter.
  bool opens_front_matter = first == "---" && first_line_end != std::string_view::npos &&
                            body.find_first_not_of(" \t\r\n", first_line_end) !=
                                std::string_view::npos;
  if (opens_front_matter) {
    size_t pos = first_line_end + 1;
    size_t close = std::string_view::npos, after = 0;
    while (pos < body.size()) {
      size_t eol = body.find('\n', pos);
      size_t line_end = eol == std::string_view::npos ? body.size() : eol;
      std::string_view line = body.substr(pos, line_end - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line == "---" || line == "...") {
        close = pos;
        after = eol == std::string_view::npos ? body.size() : eol + 1;
        break;
      }
      pos = line_end + 1;
    }
    if (close == std::string_view::npos) {
      return invalid_argument("front matter opened with '---' on line 1 is never closed");
    }
    DKB_ASSIGN_OR_RETURN(doc.metadata, parse_front_matter_yaml(body.substr(
                                           first_line_end + 1, close - first_line_end - 1)));
    body = body.substr(after);
    if (auto t = doc.metadata.find("title"); t != doc.metadata.end() && t->is_string()) {
      doc.title = t->get<std::string>();
    }
  }
  doc.text = std::string(body);
  return doc;
}

}  // namespace dkb::kb
