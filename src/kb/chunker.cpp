#include "kb/chunker.h"

#include <algorithm>

#include "base/utf8.h"
#include "kb/text_tokenizer.h"

namespace dkb::kb {
namespace {

struct Range {
  size_t start, end;
};

struct Unit {
  size_t start, end, tokens;
};

struct Section {
  size_t start, end;
  std::vector<std::string> heading_path;
  bool starts_with_heading = false;
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

// ATX heading: up to 3 spaces, 1-6 '#', then space or end. Returns level (0 = not a heading).
int heading_level(std::string_view line, std::string* title) {
  size_t i = 0;
  while (i < 3 && i < line.size() && line[i] == ' ') ++i;
  size_t hashes = 0;
  while (i + hashes < line.size() && line[i + hashes] == '#') ++hashes;
  if (hashes == 0 || hashes > 6) return 0;
  size_t rest = i + hashes;
  if (rest < line.size() && line[rest] != ' ' && line[rest] != '\t') return 0;
  std::string_view t = line.substr(rest);
  Range r = trim(t, {0, t.size()});
  t = t.substr(r.start, r.end - r.start);
  while (!t.empty() && t.back() == '#') t.remove_suffix(1);  // closing sequence
  r = trim(t, {0, t.size()});
  *title = std::string(t.substr(r.start, r.end - r.start));
  return static_cast<int>(hashes);
}

std::vector<Section> split_sections(std::string_view text, bool markdown) {
  std::vector<Section> out;
  Section cur{0, 0, {}, false};
  std::vector<std::pair<int, std::string>> stack;
  bool in_fence = false;
  char fence_char = 0;
  size_t pos = 0;
  while (markdown && pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    size_t ind = line.find_first_not_of(' ');
    std::string_view body =
        ind == std::string_view::npos || ind > 3 ? std::string_view() : line.substr(ind);
    std::string title;
    if (body.size() >= 3 && (body.starts_with("```") || body.starts_with("~~~"))) {
      if (!in_fence) {
        in_fence = true;
        fence_char = body[0];
      } else if (body[0] == fence_char) {
        in_fence = false;
      }
    } else if (!in_fence) {
      int level = heading_level(line, &title);
      if (level > 0) {
        cur.end = pos;
        if (!is_blank(text.substr(cur.start, cur.end - cur.start))) out.push_back(cur);
        while (!stack.empty() && stack.back().first >= level) stack.pop_back();
        stack.emplace_back(level, title);
        cur = Section{pos, 0, {}, true};
        for (auto& [lvl, t] : stack) cur.heading_path.push_back(t);
      }
    }
    pos = eol + 1;
  }
  cur.end = text.size();
  if (!is_blank(text.substr(cur.start, cur.end - cur.start))) out.push_back(cur);
  return out;
}

// Page breaks (form feeds) split sections too, so no chunk spans two pages.
std::vector<Section> split_pages(std::string_view text, std::vector<Section> sections) {
  if (text.find('\f') == std::string_view::npos) return sections;
  std::vector<Section> out;
  for (Section& s : sections) {
    size_t start = s.start;
    bool heading = s.starts_with_heading;
    for (;;) {
      size_t ff = text.find('\f', start);
      size_t end = ff == std::string_view::npos || ff >= s.end ? s.end : ff;
      if (!is_blank(text.substr(start, end - start))) {
        out.push_back(Section{start, end, s.heading_path, heading});
      }
      heading = false;
      if (end == s.end) break;
      start = end + 1;
    }
  }
  return out;
}

std::vector<Range> split_paragraphs(std::string_view text, const Section& s) {
  std::vector<Range> out;
  size_t pos = s.start, para_start = s.start;
  bool first_line = true;
  while (pos < s.end) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos || eol > s.end) eol = s.end;
    std::string_view line = text.substr(pos, eol - pos);
    size_t next = std::min(eol + 1, s.end);
    if (is_blank(line) || (first_line && s.starts_with_heading)) {
      size_t end = is_blank(line) ? pos : eol;
      Range r = trim(text, {para_start, end});
      if (r.end > r.start) out.push_back(r);
      para_start = next;
    }
    first_line = false;
    pos = next;
    if (eol == s.end) break;
  }
  Range r = trim(text, {para_start, s.end});
  if (r.end > r.start) out.push_back(r);
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

  for (const Section& section : split_pages(text, split_sections(text, options.markdown))) {
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
    bool heading_unit = false;  // units[0] is the section's heading line
    for (Range para : split_paragraphs(text, section)) {
      size_t t = tokens_of(para);
      if (t <= max_tokens) {
        heading_unit = heading_unit || (units.empty() && section.starts_with_heading);
        units.push_back({para.start, para.end, t});
        continue;
      }
      for (Range sent : split_sentences(text, para)) {
        size_t st = tokens_of(sent);
        if (st <= max_tokens) {
          units.push_back({sent.start, sent.end, st});
        } else {
          add_hard_split(sent);
        }
      }
    }

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
