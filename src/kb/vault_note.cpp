// Obsidian/Logseq note parsing (see kb/vault_note.h): front matter, Logseq properties, tags,
// [[wikilinks]] and ![[embeds]], skipping code (code blocks as cmark finds them).
#include "kb/vault_note.h"

#include <algorithm>

#include "kb/markdown_outline.h"

namespace dkb::kb {
namespace {

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

void add_unique(std::vector<std::string>& v, std::string s) {
  s = trim(s);
  if (s.empty() || std::find(v.begin(), v.end(), s) != v.end()) return;
  v.push_back(std::move(s));
}

bool tag_char(unsigned char c) {
  return std::isalnum(c) || c == '_' || c == '-' || c == '/' || c >= 0x80;
}

// "[[a]], b, #c" → {"a", "b", "c"}; a JSON array of strings → its elements.
void add_list(std::vector<std::string>& out, const Json& v) {
  if (v.is_array()) {
    for (const auto& e : v) {
      if (e.is_string()) add_list(out, e);
    }
    return;
  }
  if (!v.is_string()) return;
  std::string s = v.get<std::string>();
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string item = trim(s.substr(start, comma == std::string::npos ? comma : comma - start));
    if (item.starts_with("[[") && item.ends_with("]]")) item = item.substr(2, item.size() - 4);
    if (item.starts_with("#")) item.erase(0, 1);
    add_unique(out, item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
}

DocumentLink parse_link_body(std::string_view inner, bool embed) {
  DocumentLink l;
  l.embed = embed;
  size_t bar = inner.find('|');
  if (bar != std::string_view::npos) {
    l.alias = trim(inner.substr(bar + 1));
    inner = inner.substr(0, bar);
  }
  size_t hash = inner.find('#');
  if (hash != std::string_view::npos) {
    l.heading = trim(inner.substr(hash + 1));
    inner = inner.substr(0, hash);
  }
  l.target = trim(inner);
  std::string low = l.target;
  std::transform(low.begin(), low.end(), low.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (low.ends_with(".md")) l.target.resize(l.target.size() - 3);
  return l;
}

// Scans one line of prose (not code) for links and tags; inline code spans are skipped.
void scan_line(std::string_view line, VaultNote& note) {
  size_t i = 0;
  while (i < line.size()) {
    char c = line[i];
    if (c == '`') {  // inline code span: skip to the matching run of backticks
      size_t run = line.find_first_not_of('`', i) - i;
      if (i + run > line.size()) break;
      size_t close = line.find(std::string(run, '`'), i + run);
      if (close == std::string_view::npos) {
        i += run;
        continue;
      }
      i = close + run;
      continue;
    }
    bool embed = c == '!' && line.substr(i + 1, 2) == "[[";
    if (embed || line.substr(i, 2) == "[[") {
      size_t open = i + (embed ? 3 : 2);
      size_t close = line.find("]]", open);
      if (close == std::string_view::npos) break;
      DocumentLink l = parse_link_body(line.substr(open, close - open), embed);
      if (!l.target.empty()) note.links.push_back(std::move(l));
      i = close + 2;
      continue;
    }
    if (c == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t' || line[i - 1] == '(')) {
      if (line.substr(i + 1, 2) == "[[") {
        size_t close = line.find("]]", i + 3);
        if (close == std::string_view::npos) break;
        DocumentLink l = parse_link_body(line.substr(i + 3, close - i - 3), false);
        if (!l.target.empty()) {
          add_unique(note.tags, l.target);
          note.links.push_back(std::move(l));
        }
        i = close + 2;
        continue;
      }
      size_t j = i + 1;
      while (j < line.size() && tag_char(static_cast<unsigned char>(line[j]))) ++j;
      std::string tag(line.substr(i + 1, j - i - 1));
      while (!tag.empty() && (tag.back() == '/' || tag.back() == '-')) tag.pop_back();
      bool all_digits = std::all_of(tag.begin(), tag.end(), [](unsigned char ch) {
        return std::isdigit(ch);
      });
      if (!tag.empty() && !all_digits) add_unique(note.tags, tag);
      i = j;
      continue;
    }
    ++i;
  }
}

// "key:: value" or "- key:: value" → {key, value}; false otherwise.
bool property_line(std::string_view line, std::string* key, std::string* value) {
  std::string t = trim(line);
  std::string_view s = t;
  if (s.starts_with("- ")) s.remove_prefix(2);
  size_t sep = s.find(":: ");
  if (sep == std::string_view::npos) {
    if (!s.ends_with("::")) return false;
    sep = s.size() - 2;
  }
  std::string_view k = s.substr(0, sep);
  if (k.empty()) return false;
  for (char ch : k) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-') return false;
  }
  *key = std::string(k);
  *value = sep + 3 <= s.size() ? trim(s.substr(sep + 3)) : std::string();
  return true;
}

}  // namespace

std::string normalize_note_name(std::string_view name) {
  std::string s = trim(name);
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (s.starts_with("./")) s.erase(0, 2);
  while (s.starts_with("/")) s.erase(0, 1);
  if (s.ends_with(".md")) s.resize(s.size() - 3);
  return s;
}

Result<VaultNote> parse_vault_note(std::string_view path, std::string_view content) {
  VaultNote note;
  DKB_ASSIGN_OR_RETURN(note.doc, parse_markdown(content));
  Json& meta = note.doc.metadata;
  for (const char* k : {"tags", "tag"}) {
    if (auto it = meta.find(k); it != meta.end()) add_list(note.tags, *it);
  }
  for (const char* k : {"aliases", "alias"}) {
    if (auto it = meta.find(k); it != meta.end()) add_list(note.aliases, *it);
  }

  std::string_view body = note.doc.text;
  // Code blocks (fenced, also unterminated, and indented, at any depth) as cmark sees them.
  const std::vector<ByteRange> code = outline_markdown(body).code;
  size_t next_code = 0;
  bool page_properties = true;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t line_start = pos;
    size_t eol = body.find('\n', pos);
    std::string_view line = body.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    pos = eol == std::string_view::npos ? body.size() : eol + 1;
    while (next_code < code.size() && code[next_code].end <= line_start) ++next_code;
    if (next_code < code.size() && code[next_code].start < line_start + line.size()) {
      page_properties = false;  // a line of code (or a "- ```" opening one) holds no links
      continue;
    }
    std::string key, value;
    if (property_line(line, &key, &value)) {
      std::string k = key;
      std::transform(k.begin(), k.end(), k.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (k == "tags" || k == "tag") {
        add_list(note.tags, Json(value));
      } else if (k == "alias" || k == "aliases") {
        add_list(note.aliases, Json(value));
      } else if (page_properties && k == "title") {
        note.doc.title = value;
      } else if (page_properties && !value.empty()) {
        meta[key] = value;
      }
      // Links inside property values are links, but "tags:: x" are not #tags to re-scan.
      if (k != "tags" && k != "tag" && k != "alias" && k != "aliases") scan_line(value, note);
      else {
        size_t p = 0;
        while ((p = value.find("[[", p)) != std::string::npos) {
          size_t close = value.find("]]", p + 2);
          if (close == std::string::npos) break;
          DocumentLink l = parse_link_body(std::string_view(value).substr(p + 2, close - p - 2), false);
          if (!l.target.empty()) note.links.push_back(std::move(l));
          p = close + 2;
        }
      }
      continue;
    }
    if (!trim(line).empty()) page_properties = false;
    scan_line(line, note);
  }

  for (const char* k : {"tag", "tags", "alias", "aliases"}) meta.erase(k);
  if (!note.tags.empty()) meta["tags"] = note.tags;
  if (!note.aliases.empty()) meta["aliases"] = note.aliases;
  if (note.doc.title.empty()) {
    std::string_view base = path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
    std::string name(base);
    if (size_t dot = name.rfind('.'); dot != std::string::npos && dot > 0) name.resize(dot);
    // Logseq's "a___b" is page "a/b" (built anew: GCC 12 misjudges replace() here, -Wrestrict).
    for (size_t p = 0;;) {
      size_t q = name.find("___", p);
      note.doc.title.append(name, p, q == std::string::npos ? q : q - p);
      if (q == std::string::npos) break;
      note.doc.title += '/';
      p = q + 3;
    }
  }
  return note;
}

}  // namespace dkb::kb
