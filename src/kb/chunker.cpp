#include "kb/chunker.h"

#include <algorithm>

#include "base/utf8.h"
#include "kb/markdown_outline.h"
#include "kb/text_tokenizer.h"

namespace dkb::kb {
namespace {

struct Range {
  size_t start, end;
};

struct Unit {
  size_t start, end, tokens;
};

// A block the chunker never splits while it fits the budget: a Markdown block (md set when it
// is a container whose children can be split further) or, in plain text, a paragraph.
struct Block {
  Range range;
  MarkdownBlockKind kind = MarkdownBlockKind::kParagraph;
  const MarkdownBlock* md = nullptr;
};

struct Section {
  std::vector<std::string> heading_path;
  bool starts_with_heading = false;  // blocks[0] is the heading
  std::vector<Block> blocks;
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return is_space(c); });
}

Range trim(std::string_view text, Range r) {
  while (r.start < r.end && is_space(text[r.start])) ++r.start;
  while (r.end > r.start && is_space(text[r.end - 1])) --r.end;
  return r;
}

// Plain text: blank-line separated paragraphs of [r.start, r.end), trimmed.
std::vector<Range> split_paragraphs(std::string_view text, Range r) {
  std::vector<Range> out;
  size_t pos = r.start, para_start = r.start;
  while (pos < r.end) {
    size_t eol = std::min(text.find('\n', pos), r.end);
    if (is_blank(text.substr(pos, eol - pos))) {
      Range p = trim(text, {para_start, pos});
      if (p.end > p.start) out.push_back(p);
      para_start = eol;
    }
    pos = eol + 1;
  }
  Range p = trim(text, {para_start, r.end});
  if (p.end > p.start) out.push_back(p);
  return out;
}

// Markdown: cmark's top-level headings start sections (heading path = the titles of the
// enclosing headings by level); every other top-level block belongs to the current section.
std::vector<Section> split_sections(std::string_view text, const MarkdownOutline* outline) {
  std::vector<Section> out;
  if (outline == nullptr) {
    Section all;
    for (Range p : split_paragraphs(text, {0, text.size()})) all.blocks.push_back({p});
    if (!all.blocks.empty()) out.push_back(std::move(all));
    return out;
  }
  Section cur;
  std::vector<std::pair<int, std::string>> stack;
  for (const MarkdownBlock& b : outline->blocks) {
    if (b.kind == MarkdownBlockKind::kHeading) {
      if (!cur.blocks.empty()) out.push_back(std::move(cur));
      while (!stack.empty() && stack.back().first >= b.heading_level) stack.pop_back();
      stack.emplace_back(b.heading_level, b.title);
      cur = Section{};
      for (auto& [level, title] : stack) cur.heading_path.push_back(title);
      cur.starts_with_heading = true;
    }
    cur.blocks.push_back({{b.start, b.end}, b.kind, &b});
  }
  if (!cur.blocks.empty()) out.push_back(std::move(cur));
  return out;
}

// Page breaks (form feeds) split sections too, so no chunk spans two pages: a block with a form
// feed is cut there (its pieces are plain paragraphs, or code), and blocks are grouped by page.
std::vector<Section> split_pages(std::string_view text, std::vector<Section> sections) {
  std::vector<size_t> feeds;
  for (size_t i = text.find('\f'); i != std::string_view::npos; i = text.find('\f', i + 1))
    feeds.push_back(i);
  if (feeds.empty()) return sections;
  auto page_of = [&](size_t pos) {
    return std::upper_bound(feeds.begin(), feeds.end(), pos) - feeds.begin();
  };
  std::vector<Section> out;
  for (Section& s : sections) {
    std::vector<Block> pieces;
    for (const Block& b : s.blocks) {
      if (page_of(b.range.start) == page_of(b.range.end - 1)) {
        pieces.push_back(b);
        continue;
      }
      MarkdownBlockKind kind =
          b.kind == MarkdownBlockKind::kCode ? b.kind : MarkdownBlockKind::kParagraph;
      size_t start = b.range.start;
      for (;;) {
        size_t ff = std::min(text.find('\f', start), b.range.end);
        Range r = trim(text, {start, ff});
        if (r.end > r.start) pieces.push_back({r, kind});
        if (ff == b.range.end) break;
        start = ff + 1;
      }
    }
    bool heading = s.starts_with_heading;
    for (size_t i = 0; i < pieces.size();) {
      Section page{s.heading_path, heading && i == 0, {}};
      auto p = page_of(pieces[i].range.start);
      while (i < pieces.size() && page_of(pieces[i].range.start) == p)
        page.blocks.push_back(pieces[i++]);
      out.push_back(std::move(page));
    }
  }
  return out;
}

bool is_sentence_end(uint32_t cp) {
  return cp == 0x3002 /*。*/ || cp == 0xFF01 /*！*/ || cp == 0xFF1F /*？*/ || cp == 0xFF1B /*；*/ ||
         cp == 0xFF0E /*．*/;
}

bool is_closer(uint32_t cp) {
  return cp == '"' || cp == '\'' || cp == ')' || cp == 0x201D || cp == 0x2019 || cp == 0x300D ||
         cp == 0x300F || cp == 0xFF09 || cp == 0x3011 || cp == 0x300B;
}

std::vector<Range> split_sentences(std::string_view text, Range para) {
  std::vector<Range> out;
  size_t start = para.start, i = para.start;
  while (i < para.end) {
    uint32_t cp = utf8::decode(text, i);
    bool end = is_sentence_end(cp);
    if (!end && (cp == '.' || cp == '!' || cp == '?')) {
      end = i >= para.end || is_space(text[i]);
    }
    if (!end) continue;
    size_t j = i;
    while (j < para.end) {
      size_t k = j;
      if (!is_closer(utf8::decode(text, k))) break;
      j = k;
    }
    i = j;
    Range r = trim(text, {start, i});
    if (r.end > r.start) out.push_back(r);
    start = i;
  }
  Range r = trim(text, {start, para.end});
  if (r.end > r.start) out.push_back(r);
  return out;
}

}  // namespace

size_t approx_token_count(std::string_view text) {
  size_t cjk = 0, other_bytes = 0, i = 0;
  while (i < text.size()) {
    size_t before = i;
    uint32_t cp = utf8::decode(text, i);
    if (is_cjk(cp)) {
      ++cjk;
    } else {
      other_bytes += i - before;
    }
  }
  return cjk + (other_bytes + 3) / 4;
}

std::vector<ChunkDraft> chunk_text(std::string_view text, const ChunkerOptions& options) {
  TokenCounter count =
      options.count_tokens ? options.count_tokens : TokenCounter(approx_token_count);
  const size_t max_tokens = std::max<size_t>(options.max_tokens, 1);
  auto tokens_of = [&](Range r) { return count(text.substr(r.start, r.end - r.start)); };
  std::vector<ChunkDraft> out;
  const bool paged = text.find('\f') != std::string_view::npos;

  MarkdownOutline outline;
  if (options.markdown) outline = outline_markdown(text);
  for (const Section& section :
       split_pages(text, split_sections(text, options.markdown ? &outline : nullptr))) {
    std::vector<Unit> units;
    auto add_hard_split = [&](Range r) {
      std::vector<size_t> cuts;  // code-point boundaries
      for (size_t i = r.start; i < r.end;) {
        cuts.push_back(i);
        utf8::decode(text, i);
      }
      cuts.push_back(r.end);
      size_t a = 0;
      while (a + 1 < cuts.size()) {
        size_t lo = a + 1, hi = cuts.size() - 1;  // largest b with tokens(a,b) <= max
        while (lo < hi) {
          size_t mid = (lo + hi + 1) / 2;
          if (tokens_of({cuts[a], cuts[mid]}) <= max_tokens)
            lo = mid;
          else
            hi = mid - 1;
        }
        units.push_back({cuts[a], cuts[lo], tokens_of({cuts[a], cuts[lo]})});
        a = lo;
      }
    };
    auto add_piece = [&](Range r) {
      size_t t = tokens_of(r);
      if (t <= max_tokens) {
        units.push_back({r.start, r.end, t});
      } else {
        add_hard_split(r);
      }
    };
    // A block that fits is one unit. One that does not: a container splits into its children
    // (the first keeps the container's marker), code and HTML into lines, prose into sentences;
    // whatever still does not fit is cut at code points.
    auto add_block = [&](auto& self, const Block& b) -> void {
      size_t t = tokens_of(b.range);
      if (t <= max_tokens) {
        units.push_back({b.range.start, b.range.end, t});
        return;
      }
      if (b.md != nullptr && !b.md->children.empty()) {
        for (size_t i = 0; i < b.md->children.size(); ++i) {
          const MarkdownBlock& c = b.md->children[i];
          Range r = trim(text, {i == 0 ? b.range.start : c.start, c.end});
          self(self, Block{r, c.kind, &c});
        }
        return;
      }
      if (b.kind == MarkdownBlockKind::kCode || b.kind == MarkdownBlockKind::kHtml) {
        for (size_t pos = b.range.start; pos < b.range.end;) {
          size_t eol = std::min(text.find('\n', pos), b.range.end);
          Range line = trim(text, {pos, eol});
          if (line.end > line.start) add_piece(line);
          pos = eol + 1;
        }
        return;
      }
      for (Range sent : split_sentences(text, b.range)) add_piece(sent);
    };
    for (const Block& b : section.blocks) add_block(add_block, b);
    // units[0] is the section's heading line (when the heading fits in one unit).
    const bool heading_unit = section.starts_with_heading && !units.empty() &&
                              units[0].start == section.blocks[0].range.start &&
                              units[0].end == section.blocks[0].range.end;

    std::vector<Unit> cur;
    size_t cur_tokens = 0;
    auto emit = [&] {
      ChunkDraft d;
      d.start = cur.front().start;
      d.end = cur.back().end;
      d.text = std::string(text.substr(d.start, d.end - d.start));
      d.heading_path = section.heading_path;
      if (paged) {
        d.page = 1 + static_cast<int32_t>(std::count(text.begin(), text.begin() + d.start, '\f'));
      }
      out.push_back(std::move(d));
    };
    for (const Unit& u : units) {
      if (!cur.empty() && cur_tokens + u.tokens > max_tokens) {
        if (heading_unit && cur.size() == 1 && cur[0].start == units[0].start) {
          // A heading alone is not worth a chunk; it lives on in the heading path.
          cur.clear();
          cur_tokens = 0;
          cur.push_back(u);
          cur_tokens += u.tokens;
          continue;
        }
        emit();
        std::vector<Unit> keep;
        size_t kept = 0;
        for (auto it = cur.rbegin(); it != cur.rend(); ++it) {
          if (kept + it->tokens > options.overlap_tokens) break;
          kept += it->tokens;
          keep.insert(keep.begin(), *it);
        }
        while (!keep.empty() && kept + u.tokens > max_tokens) {
          kept -= keep.front().tokens;
          keep.erase(keep.begin());
        }
        cur = std::move(keep);
        cur_tokens = kept;
      }
      cur.push_back(u);
      cur_tokens += u.tokens;
    }
    if (!cur.empty()) emit();
  }
  return out;
}

}  // namespace dkb::kb
