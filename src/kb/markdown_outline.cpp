// Markdown block structure from cmark's AST with byte ranges (see kb/markdown_outline.h).
#include "kb/markdown_outline.h"

#include <cmark.h>

#include <algorithm>
#include <memory>

namespace dkb::kb {
namespace {

struct NodeFree {
  void operator()(cmark_node* n) const { cmark_node_free(n); }
};
struct IterFree {
  void operator()(cmark_iter* it) const { cmark_iter_free(it); }
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// 1-based (line, byte column) of cmark → byte offsets of the text cmark parsed.
class LineTable {
 public:
  explicit LineTable(std::string_view text) : size_(text.size()) {
    starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i) {
      // cmark's line ends: \n, \r\n, and a lone \r.
      if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')))
        starts_.push_back(i + 1);
    }
  }
  // Offset of the byte after `bytes` bytes of line `line`; clamped to the text.
  size_t at(int line, int bytes) const {
    if (line < 1) return 0;
    size_t l = std::min(static_cast<size_t>(line), starts_.size()) - 1;
    return std::min(starts_[l] + static_cast<size_t>(std::max(bytes, 0)), size_);
  }
  int count() const { return static_cast<int>(starts_.size()); }
  // Line `line` (1-based, <= count()) without its line end.
  std::string_view line(std::string_view text, int line) const {
    size_t l = static_cast<size_t>(line) - 1;
    size_t end = l + 1 < starts_.size() ? starts_[l + 1] : size_;
    std::string_view s = text.substr(starts_[l], end - starts_[l]);
    if (s.ends_with('\n')) s.remove_suffix(1);
    if (s.ends_with('\r')) s.remove_suffix(1);
    return s;
  }

 private:
  std::vector<size_t> starts_;
  size_t size_;
};

class Builder {
 public:
  Builder(std::string_view text, size_t base) : text_(text), base_(base), lines_(text) {}

  // The node's source range in the parsed text: trimmed, on code-point boundaries, not starting
  // before `floor` (cmark's ends of lists and items can reach into the next block's line).
  // cmark's columns are whole bytes of valid UTF-8 here, so the snapping is only a safeguard.
  ByteRange range_of(cmark_node* n, size_t floor) const {
    size_t start = lines_.at(cmark_node_get_start_line(n), cmark_node_get_start_column(n) - 1);
    size_t end = lines_.at(cmark_node_get_end_line(n), cmark_node_get_end_column(n));
    start = std::max(start, floor);
    end = std::max(end, start);
    while (start < end && is_continuation(text_[start])) ++start;
    while (end < text_.size() && is_continuation(text_[end])) ++end;
    while (start < end && is_space(text_[start])) ++start;
    while (end > start && is_space(text_[end - 1])) --end;
    return {start, end};
  }

  // cmark 0.30 ends an ATX heading before its closing '#'s and a setext heading on the line
  // after its underline (where it noticed the heading was over): a heading's range is instead
  // its whole line (ATX) or its lines through the underline (setext).
  ByteRange heading_range(cmark_node* n, size_t floor) const {
    ByteRange r = range_of(n, floor);
    int first = cmark_node_get_start_line(n);
    if (first < 1 || first > lines_.count()) return r;
    int last = first;
    if (!is_atx(text_.substr(r.start, r.end - r.start))) {
      int reported = std::min(cmark_node_get_end_line(n), lines_.count());
      for (int l = first + 1; l <= reported; ++l) {
        if (is_underline(lines_.line(text_, l))) {
          last = l;
          break;
        }
      }
      if (last == first) return r;  // no underline seen: keep what cmark said
    }
    std::string_view line = lines_.line(text_, last);
    size_t end = static_cast<size_t>(line.data() - text_.data()) + line.size();
    while (end > r.start && is_space(text_[end - 1])) --end;
    return {r.start, std::max(end, r.start)};
  }

  // "#"-"######" then a space, a tab or the end: an ATX heading line (never setext content).
  static bool is_atx(std::string_view s) {
    size_t n = s.find_first_not_of('#');
    if (n == std::string_view::npos) n = s.size();
    return n >= 1 && n <= 6 && (n == s.size() || s[n] == ' ' || s[n] == '\t');
  }

  // A setext underline, after the prefixes of the containers it is in ("> ", indentation).
  static bool is_underline(std::string_view s) {
    size_t i = s.find_first_not_of(" \t>");
    if (i == std::string_view::npos || (s[i] != '=' && s[i] != '-')) return false;
    size_t j = s.find_first_not_of(s[i], i);
    return j == std::string_view::npos || s.find_first_not_of(" \t", j) == std::string_view::npos;
  }

  // Children of a container, converted; `floor` as in range_of.
  std::vector<MarkdownBlock> convert_children(cmark_node* parent, size_t floor, int depth) const {
    std::vector<MarkdownBlock> out;
    for (cmark_node* c = cmark_node_first_child(parent); c != nullptr; c = cmark_node_next(c)) {
      size_t from = out.empty() ? floor : out.back().end - base_;
      ByteRange r =
          cmark_node_get_type(c) == CMARK_NODE_HEADING ? heading_range(c, from) : range_of(c, from);
      if (r.end == r.start) continue;
      out.push_back(convert(c, r, depth));
    }
    return out;
  }

  // Top-level blocks plus kText blocks for the non-blank text between them.
  std::vector<MarkdownBlock> top_level(cmark_node* document) const {
    std::vector<MarkdownBlock> blocks = convert_children(document, 0, 0);
    std::vector<MarkdownBlock> out;
    size_t pos = 0;
    for (MarkdownBlock& b : blocks) {
      add_text_runs(pos, b.start - base_, out);
      pos = b.end - base_;
      out.push_back(std::move(b));
    }
    add_text_runs(pos, text_.size(), out);
    return out;
  }

  std::vector<MarkdownBlock> text_runs() const {
    std::vector<MarkdownBlock> out;
    add_text_runs(0, text_.size(), out);
    return out;
  }

  std::vector<ByteRange> code_blocks(cmark_node* document) const {
    std::vector<ByteRange> out;
    std::unique_ptr<cmark_iter, IterFree> it(cmark_iter_new(document));
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it.get())) != CMARK_EVENT_DONE) {
      cmark_node* n = cmark_iter_get_node(it.get());
      if (ev != CMARK_EVENT_ENTER || cmark_node_get_type(n) != CMARK_NODE_CODE_BLOCK) continue;
      ByteRange r = range_of(n, out.empty() ? 0 : out.back().end - base_);
      if (r.end > r.start) out.push_back({r.start + base_, r.end + base_});
    }
    return out;
  }

 private:
  MarkdownBlock convert(cmark_node* n, ByteRange r, int depth) const {
    MarkdownBlock b;
    b.start = r.start + base_;
    b.end = r.end + base_;
    bool container = false;
    switch (cmark_node_get_type(n)) {
      case CMARK_NODE_HEADING:
        b.kind = MarkdownBlockKind::kHeading;
        b.heading_level = cmark_node_get_heading_level(n);
        b.title = heading_title(text_.substr(r.start, r.end - r.start));
        break;
      case CMARK_NODE_CODE_BLOCK:
        b.kind = MarkdownBlockKind::kCode;
        break;
      case CMARK_NODE_HTML_BLOCK:
      case CMARK_NODE_CUSTOM_BLOCK:
        b.kind = MarkdownBlockKind::kHtml;
        break;
      case CMARK_NODE_THEMATIC_BREAK:
        b.kind = MarkdownBlockKind::kThematicBreak;
        break;
      case CMARK_NODE_LIST:
        b.kind = MarkdownBlockKind::kList;
        container = true;
        break;
      case CMARK_NODE_ITEM:
        b.kind = MarkdownBlockKind::kItem;
        container = true;
        break;
      case CMARK_NODE_BLOCK_QUOTE:
        b.kind = MarkdownBlockKind::kBlockQuote;
        container = true;
        break;
      default:
        b.kind = MarkdownBlockKind::kParagraph;
        break;
    }
    if (container && depth + 1 < kMarkdownMaxDepth)
      b.children = convert_children(n, r.start, depth + 1);
    return b;
  }

  // ATX headings are one line; setext headings are content lines plus the underline.
  static std::string heading_title(std::string_view s) {
    size_t last_eol = s.find_last_of("\r\n");
    if (last_eol == std::string_view::npos) {
      size_t i = s.find_first_not_of('#');
      s = i == std::string_view::npos ? std::string_view() : s.substr(i);
      size_t close = s.find_last_not_of('#');
      if (close == std::string_view::npos) return {};
      if (close + 1 < s.size() && (s[close] == ' ' || s[close] == '\t')) s = s.substr(0, close);
      return trim(s);
    }
    std::string title;
    std::string_view content = s.substr(0, last_eol);
    size_t pos = 0;
    while (pos <= content.size()) {
      size_t eol = content.find_first_of("\r\n", pos);
      if (eol == std::string_view::npos) eol = content.size();
      // Inside a block quote every line repeats its "> "; content never starts with '>'.
      std::string_view raw = content.substr(pos, eol - pos);
      raw.remove_prefix(std::min(raw.find_first_not_of(" \t>"), raw.size()));
      std::string line = trim(raw);
      if (!line.empty()) title += (title.empty() ? "" : " ") + line;
      pos = eol + 1;
    }
    return title;
  }

  static std::string trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return std::string(s);
  }

  // Blank-line separated runs of non-blank text in [from, to) → kText blocks.
  void add_text_runs(size_t from, size_t to, std::vector<MarkdownBlock>& out) const {
    size_t run_start = std::string_view::npos, run_end = 0, pos = from;
    auto flush = [&] {
      if (run_start == std::string_view::npos) return;
      MarkdownBlock b;
      b.kind = MarkdownBlockKind::kText;
      b.start = run_start + base_;
      b.end = run_end + base_;
      out.push_back(std::move(b));
      run_start = std::string_view::npos;
    };
    while (pos < to) {
      size_t eol = std::min(text_.find('\n', pos), to);
      size_t a = pos, e = eol;
      while (a < e && is_space(text_[a])) ++a;
      while (e > a && is_space(text_[e - 1])) --e;
      if (a == e) {
        flush();
      } else {
        if (run_start == std::string_view::npos) run_start = a;
        run_end = e;
      }
      pos = eol + 1;
    }
    flush();
  }

  std::string_view text_;  // what cmark parsed
  size_t base_;            // offset of text_ in the caller's text (a skipped BOM)
  LineTable lines_;
};

}  // namespace

MarkdownOutline outline_markdown(std::string_view text) {
  MarkdownOutline out;
  size_t base = 0;
  // cmark skips a leading BOM and counts line 1's columns after it; so do we.
  if (text.starts_with("\xEF\xBB\xBF")) {
    base = 3;
    text.remove_prefix(3);
  }
  // cmark replaces each NUL with U+FFFD (3 bytes), shifting the columns after it; a one-byte
  // stand-in that is as inert for block structure keeps them exact.
  std::string without_nul;
  std::string_view parsed = text;
  if (text.find('\0') != std::string_view::npos) {
    without_nul.assign(text);
    std::replace(without_nul.begin(), without_nul.end(), '\0', '\x01');
    parsed = without_nul;
  }
  std::unique_ptr<cmark_node, NodeFree> doc(
      cmark_parse_document(parsed.data(), parsed.size(), CMARK_OPT_SOURCEPOS));
  Builder builder(text, base);
  if (!doc) {  // cmark's allocator aborts rather than fail, but never dereference null
    out.blocks = builder.text_runs();
    return out;
  }
  out.blocks = builder.top_level(doc.get());
  out.code = builder.code_blocks(doc.get());
  return out;
}

}  // namespace dkb::kb
