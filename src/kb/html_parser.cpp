// HTML → Markdown-ish text via libxml2's tolerant HTML parser (see kb/parsers.h).
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <cstring>
#include <memory>
#include <mutex>

#include "kb/parsers.h"

namespace dkb::kb {
namespace {

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

const char* name_of(const xmlNode* n) {
  return reinterpret_cast<const char*>(n->name);
}

bool is_one_of(const char* name, std::initializer_list<const char*> names) {
  for (const char* x : names) {
    if (std::strcmp(name, x) == 0) return true;
  }
  return false;
}

bool is_dropped(const char* name) {
  return is_one_of(name, {"script", "style", "nav", "header", "footer", "aside", "form", "noscript",
                          "template", "head", "svg", "iframe"});
}

bool is_block(const char* name) {
  return is_one_of(name,
                   {"p",      "div",  "section",    "article", "main", "li",     "ul", "ol",
                    "table",  "tr",   "blockquote", "pre",     "dd",   "dt",     "dl", "figcaption",
                    "figure", "body", "td",         "th",      "hr",   "address"});
}

int heading_level(const char* name) {
  if (name[0] == 'h' && name[1] >= '1' && name[1] <= '6' && name[2] == '\0') return name[1] - '0';
  return 0;
}

class Walker {
 public:
  std::string out;

  void walk(const xmlNode* n, bool pre) {
    for (; n != nullptr; n = n->next) {
      if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        text(reinterpret_cast<const char*>(n->content), pre);
        continue;
      }
      if (n->type != XML_ELEMENT_NODE) continue;
      const char* name = name_of(n);
      if (is_dropped(name)) continue;
      if (int level = heading_level(name)) {
        Walker inner;
        inner.walk(n->children, false);
        std::string t = collapse(inner.out);
        if (!t.empty()) {
          paragraph_break();
          out += std::string(static_cast<size_t>(level), '#') + " " + t;
          paragraph_break();
        }
        continue;
      }
      if (std::strcmp(name, "br") == 0) {
        out += '\n';
        continue;
      }
      bool block = is_block(name);
      if (block) paragraph_break();
      walk(n->children, pre || std::strcmp(name, "pre") == 0);
      if (block) paragraph_break();
    }
  }

 private:
  static std::string collapse(const std::string& s) {
    std::string r;
    bool space = false;
    for (char c : s) {
      if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
        space = !r.empty();
      } else {
        if (space) r += ' ';
        space = false;
        r += c;
      }
    }
    return r;
  }

  void paragraph_break() {
    while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
    if (out.empty() || out.ends_with("\n\n")) return;
    out += out.back() == '\n' ? "\n" : "\n\n";
  }

  void text(const char* s, bool pre) {
    if (s == nullptr) return;
    if (pre) {
      out += s;
      return;
    }
    for (const char* p = s; *p; ++p) {
      char c = *p;
      if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
        if (!out.empty() && out.back() != ' ' && out.back() != '\n') out += ' ';
      } else {
        out += c;
      }
    }
  }
};

const xmlNode* find_element(const xmlNode* n, const char* name) {
  for (; n != nullptr; n = n->next) {
    if (n->type == XML_ELEMENT_NODE && std::strcmp(name_of(n), name) == 0) return n;
    if (const xmlNode* f = find_element(n->children, name)) return f;
  }
  return nullptr;
}

}  // namespace

Result<ParsedDocument> parse_html(std::string_view html) {
  DKB_RETURN_IF_ERROR(check_utf8(html));
  static std::once_flag init;
  std::call_once(init, [] { xmlInitParser(); });
  if (html.size() > static_cast<size_t>(INT32_MAX))
    return invalid_argument("HTML document too large");
  std::unique_ptr<xmlDoc, DocFree> doc(htmlReadMemory(
      html.data(), static_cast<int>(html.size()), nullptr, "UTF-8",
      HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET));
  if (!doc) return invalid_argument("HTML could not be parsed");
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr) return invalid_argument("HTML has no root element");
  ParsedDocument out;
  out.markdown = true;
  if (const xmlNode* title = find_element(root, "title")) {
    Walker w;
    w.walk(title->children, false);
    out.title = w.out;
    while (!out.title.empty() && out.title.back() == ' ') out.title.pop_back();
  }
  const xmlNode* body = find_element(root, "body");
  Walker w;
  w.walk(body ? body->children : root, false);
  out.text = std::move(w.out);
  return out;
}

}  // namespace dkb::kb
