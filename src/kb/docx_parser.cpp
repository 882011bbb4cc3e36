// DOCX → Markdown-style text with libzip + libxml2 (see kb/parsers.h): headings from the
// paragraph styles, paragraphs in order, tables one row per line.
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <zip.h>

#include <map>
#include <memory>
#include <mutex>

#include "kb/parsers.h"

namespace dkb::kb {
namespace {

constexpr zip_uint64_t kMaxPartBytes = 64u << 20;

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct XmlDocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using XmlDoc = std::unique_ptr<xmlDoc, XmlDocFree>;

// Reads one part of the archive; nullopt-like empty result with found=false when absent.
Result<std::string> read_part(zip_t* zip, const char* name, bool* found) {
  zip_stat_t st;
  zip_stat_init(&st);
  *found = zip_stat(zip, name, 0, &st) == 0;
  if (!*found) return std::string();
  if (!(st.valid & ZIP_STAT_SIZE) || st.size > kMaxPartBytes) {
    return invalid_argument(std::string("DOCX part ") + name + " is over 64 MiB uncompressed");
  }
  zip_file_t* f = zip_fopen(zip, name, 0);
  if (f == nullptr) {
    return invalid_argument(std::string("DOCX part ") + name +
                            " cannot be read: " + zip_strerror(zip));
  }
  std::string out(st.size, '\0');
  zip_int64_t n = zip_fread(f, out.data(), st.size);
  zip_fclose(f);
  if (n < 0 || static_cast<zip_uint64_t>(n) != st.size) {
    return invalid_argument(std::string("DOCX part ") + name + " is damaged");
  }
  return out;
}

Result<XmlDoc> parse_xml(const std::string& xml, const char* name) {
  static std::once_flag init;
  std::call_once(init, [] { xmlInitParser(); });
  // No NOENT/DTDLOAD: external entities are never resolved.
  XmlDoc d(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), name, nullptr,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!d || xmlDocGetRootElement(d.get()) == nullptr) {
    return invalid_argument(std::string("DOCX part ") + name + " is not well-formed XML");
  }
  return d;
}

bool is(const xmlNode* n, const char* local) {
  return n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST local) == 0;
}

std::string attr(const xmlNode* n, const char* local) {
  for (xmlAttr* a = n->properties; a != nullptr; a = a->next) {
    if (xmlStrcmp(a->name, BAD_CAST local) == 0 && a->children && a->children->content) {
      return reinterpret_cast<const char*>(a->children->content);
    }
  }
  return {};
}

const xmlNode* child(const xmlNode* n, const char* local) {
  for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
    if (is(c, local)) return c;
  }
  return nullptr;
}

// Text of runs below n: w:t, tabs and breaks; field instructions and deleted text are skipped.
void run_text(const xmlNode* n, std::string& out) {
  for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (is(c, "t")) {
      xmlChar* s = xmlNodeGetContent(c);
      if (s) out += reinterpret_cast<const char*>(s);
      xmlFree(s);
    } else if (is(c, "tab")) {
      out += '\t';
    } else if (is(c, "br") || is(c, "cr")) {
      out += '\n';
    } else if (!is(c, "instrText") && !is(c, "delText") && !is(c, "pPr") && !is(c, "rPr")) {
      run_text(c, out);
    }
  }
}

int heading_level(const std::string& style_name) {
  std::string s;
  for (char ch : style_name) {
    if (ch != ' ') s += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  if (s == "title") return 1;
  if (s.rfind("heading", 0) == 0 && s.size() == 8 && s[7] >= '1' && s[7] <= '9') {
    return std::min(s[7] - '0', 6);
  }
  return 0;
}

class Walker {
 public:
  explicit Walker(std::map<std::string, std::string> style_names)
      : style_names_(std::move(style_names)) {}

  void block(const xmlNode* n) {
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
      if (is(c, "p")) {
        paragraph(c);
      } else if (is(c, "tbl")) {
        table(c);
      } else if (c->type == XML_ELEMENT_NODE && !is(c, "sectPr")) {
        block(c);  // content controls (w:sdt/w:sdtContent), custom XML
      }
    }
  }
  std::string text;
  std::string first_title;

 private:
  int level_of(const xmlNode* p) const {
    const xmlNode* ppr = child(p, "pPr");
    if (ppr == nullptr) return 0;
    if (const xmlNode* ps = child(ppr, "pStyle")) {
      std::string id = attr(ps, "val");
      auto it = style_names_.find(id);
      int lvl = heading_level(it != style_names_.end() ? it->second : id);
      if (lvl > 0) return lvl;
    }
    if (const xmlNode* ol = child(ppr, "outlineLvl")) {
      std::string v = attr(ol, "val");
      if (v.size() == 1 && v[0] >= '0' && v[0] <= '8') return std::min(v[0] - '0' + 1, 6);
    }
    return 0;
  }
  void paragraph(const xmlNode* p) {
    std::string line;
    run_text(p, line);
    if (line.find_first_not_of(" \t\r\n") == std::string::npos) return;
    int lvl = level_of(p);
    if (lvl > 0) {
      for (char& ch : line) {
        if (ch == '\n') ch = ' ';
      }
      if (first_title.empty()) first_title = line;
      emit(std::string(static_cast<size_t>(lvl), '#') + " " + line);
    } else {
      emit(line);
    }
  }
  void table(const xmlNode* tbl) {
    std::string rows;
    for (const xmlNode* tr = tbl->children; tr != nullptr; tr = tr->next) {
      if (!is(tr, "tr")) continue;
      std::string row;
      bool first = true;
      for (const xmlNode* tc = tr->children; tc != nullptr; tc = tc->next) {
        if (!is(tc, "tc")) continue;
        std::string cell;
        run_text(tc, cell);
        for (char& ch : cell) {
          if (ch == '\n' || ch == '\t') ch = ' ';
        }
        row += (first ? "" : " | ") + cell;
        first = false;
      }
      if (row.find_first_not_of(" |") != std::string::npos) rows += row + "\n";
    }
    if (!rows.empty()) {
      rows.pop_back();
      emit(rows);
    }
  }
  void emit(const std::string& para) {
    if (!text.empty()) text += "\n\n";
    text += para;
  }
  std::map<std::string, std::string> style_names_;
};

std::map<std::string, std::string> style_names(const xmlDoc* styles) {
  std::map<std::string, std::string> out;
  for (const xmlNode* s = xmlDocGetRootElement(styles)->children; s != nullptr; s = s->next) {
    if (!is(s, "style")) continue;
    const xmlNode* name = child(s, "name");
    if (name) out[attr(s, "styleId")] = attr(name, "val");
  }
  return out;
}

void core_properties(const xmlDoc* core, ParsedDocument& doc) {
  for (const xmlNode* c = xmlDocGetRootElement(core)->children; c != nullptr; c = c->next) {
    if (!is(c, "title") && !is(c, "creator")) continue;
    xmlChar* s = xmlNodeGetContent(c);
    std::string v = s ? reinterpret_cast<const char*>(s) : "";
    xmlFree(s);
    if (v.empty()) continue;
    if (is(c, "title")) doc.title = v;
    else doc.metadata["author"] = v;
  }
}

}  // namespace

Result<ParsedDocument> parse_docx(std::string_view bytes) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
  if (src == nullptr) return invalid_argument("DOCX cannot be read: out of memory");
  std::unique_ptr<zip_t, ZipCloser> zip(zip_open_from_source(src, ZIP_RDONLY, &err));
  if (!zip) {
    zip_source_free(src);
    std::string why = zip_error_strerror(&err);
    zip_error_fini(&err);
    return invalid_argument("DOCX is not a valid zip archive: " + why);
  }
  zip_error_fini(&err);
  bool found = false;
  DKB_ASSIGN_OR_RETURN(std::string body, read_part(zip.get(), "word/document.xml", &found));
  if (!found) return invalid_argument("zip archive is not a DOCX: no word/document.xml");
  DKB_ASSIGN_OR_RETURN(XmlDoc document, parse_xml(body, "word/document.xml"));

  std::map<std::string, std::string> names;
  DKB_ASSIGN_OR_RETURN(std::string styles_xml, read_part(zip.get(), "word/styles.xml", &found));
  if (found) {
    DKB_ASSIGN_OR_RETURN(XmlDoc styles, parse_xml(styles_xml, "word/styles.xml"));
    names = style_names(styles.get());
  }
  ParsedDocument doc;
  doc.markdown = true;
  DKB_ASSIGN_OR_RETURN(std::string core_xml, read_part(zip.get(), "docProps/core.xml", &found));
  if (found) {
    DKB_ASSIGN_OR_RETURN(XmlDoc core, parse_xml(core_xml, "docProps/core.xml"));
    core_properties(core.get(), doc);
  }
  const xmlNode* root = xmlDocGetRootElement(document.get());
  const xmlNode* body_node = child(root, "body");
  if (!is(root, "document") || body_node == nullptr) {
    return invalid_argument("DOCX word/document.xml has no w:document/w:body");
  }
  Walker w(std::move(names));
  w.block(body_node);
  if (w.text.empty()) return invalid_argument("DOCX has no text");
  DKB_RETURN_IF_ERROR(check_utf8(w.text).with_context("DOCX text"));
  doc.text = std::move(w.text);
  if (doc.title.empty()) doc.title = w.first_title;
  return doc;
}

}  // namespace dkb::kb
