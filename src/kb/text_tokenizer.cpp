#include "kb/text_tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <unordered_set>

#include "base/utf8.h"

namespace dkb::kb {
namespace {

enum class CharClass { kSeparator, kWord, kCjk };

CharClass classify(uint32_t cp) {
  if (cp < 0x80) {
    if ((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) {
      return CharClass::kWord;
    }
    return CharClass::kSeparator;
  }
  if (cp == 0xFFFD) return CharClass::kSeparator;
  if (is_cjk(cp)) return CharClass::kCjk;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return CharClass::kWord;
    default:
      return CharClass::kSeparator;
  }
}

void append_lower(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
    return;
  }
  utf8::append(out, static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
}

void clamp_token(std::string& s) {
  if (s.size() <= kMaxTokenBytes) return;
  size_t cut = kMaxTokenBytes;
  while (cut > 0 && (static_cast<uint8_t>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
}

bool is_ascii(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// NFKC + case folding for non-ASCII words: "ＧＰＵ" → "gpu", "Straße" → "strasse".
void nfkc_casefold(std::string& word) {
  utf8proc_uint8_t* mapped = nullptr;
  utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(word.data()),
                   static_cast<utf8proc_ssize_t>(word.size()), &mapped,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                                  UTF8PROC_COMPAT | UTF8PROC_CASEFOLD));
  if (n >= 0 && mapped != nullptr)
    word.assign(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
  std::free(mapped);
}

struct CjkChar {
  size_t start, end;
};

void emit_cjk_run(std::string_view text, const std::vector<CjkChar>& run, TokenizeMode mode,
                  std::vector<TextToken>& out) {
  auto slice = [&](size_t a, size_t b) { return std::string(text.substr(a, b - a)); };
  if (run.empty()) return;
  if (mode == TokenizeMode::kQuery) {
    if (run.size() == 1) {
      out.push_back({slice(run[0].start, run[0].end), run[0].start, run[0].end, false});
      return;
    }
    for (size_t i = 0; i + 1 < run.size(); ++i) {
      out.push_back({slice(run[i].start, run[i + 1].end), run[i].start, run[i + 1].end, false});
    }
    return;
  }
  for (size_t i = 0; i < run.size(); ++i) {
    out.push_back({slice(run[i].start, run[i].end), run[i].start, run[i].end, false});
    if (i + 1 < run.size()) {
      out.push_back({slice(run[i].start, run[i + 1].end), run[i].start, run[i + 1].end, true});
    }
  }
}

}  // namespace

bool is_cjk(uint32_t cp) {
  return (cp >= 0x3040 && cp <= 0x30FF) ||  // Hiragana, Katakana
         (cp >= 0x31F0 && cp <= 0x31FF) ||  // Katakana phonetic extensions
         (cp >= 0x3400 && cp <= 0x4DBF) ||  // CJK Extension A
         (cp >= 0x4E00 && cp <= 0x9FFF) ||  // CJK Unified Ideographs
         (cp >= 0xAC00 && cp <= 0xD7AF) ||  // Hangul syllables
         (cp >= 0x1100 && cp <= 0x11FF) ||  // Hangul Jamo
         (cp >= 0xF900 && cp <= 0xFAFF) ||  // CJK Compatibility Ideographs
         (cp >= 0xFF66 && cp <= 0xFF9F) ||  // half-width Katakana
         (cp >= 0x20000 && cp <= 0x3FFFF);  // Extensions B..H
}

std::vector<TextToken> tokenize_text(std::string_view text, TokenizeMode mode) {
  std::vector<TextToken> out;
  std::vector<CjkChar> run;
  std::string word;
  size_t word_start = 0, word_end = 0;
  auto flush_word = [&] {
    if (word.empty()) return;
    if (!is_ascii(word)) nfkc_casefold(word);
    clamp_token(word);
    out.push_back({std::move(word), word_start, word_end, false});
    word.clear();
  };
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    uint32_t cp = utf8::decode(text, i);
    CharClass cls = classify(cp);
    if (cls != CharClass::kCjk && !run.empty()) {
      emit_cjk_run(text, run, mode, out);
      run.clear();
    }
    if (cls != CharClass::kWord) flush_word();
    if (cls == CharClass::kWord) {
      if (word.empty()) word_start = start;
      append_lower(word, cp);
      word_end = i;
    } else if (cls == CharClass::kCjk) {
      run.push_back({start, i});
    }
  }
  flush_word();
  emit_cjk_run(text, run, mode, out);
  return out;
}

std::string fts5_match_expression(std::string_view query) {
  std::string expr;
  std::unordered_set<std::string> seen;
  for (auto& tok : tokenize_text(query, TokenizeMode::kQuery)) {
    if (seen.size() >= kMaxQueryTerms) break;
    if (!seen.insert(tok.text).second) continue;
    if (!expr.empty()) expr += " OR ";
    expr += '"';
    for (char c : tok.text) {
      if (c == '"') expr += '"';  // FTS5 string escaping; tokens cannot contain '"' today
      expr += c;
    }
    expr += '"';
  }
  return expr;
}

std::string highlight_text(std::string_view text, std::string_view query, std::string_view open,
                           std::string_view close) {
  std::unordered_set<std::string> wanted;
  for (auto& t : tokenize_text(query, TokenizeMode::kQuery)) wanted.insert(std::move(t.text));
  std::vector<std::pair<size_t, size_t>> spans;
  for (const auto& t : tokenize_text(text, TokenizeMode::kIndex)) {
    if (!wanted.count(t.text)) continue;
    if (!spans.empty() && t.start <= spans.back().second) {
      spans.back().second = std::max(spans.back().second, t.end);
    } else {
      spans.emplace_back(t.start, t.end);
    }
  }
  std::string out;
  size_t pos = 0;
  for (auto [a, b] : spans) {
    out.append(text.substr(pos, a - pos));
    out.append(open);
    out.append(text.substr(a, b - a));
    out.append(close);
    pos = b;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace dkb::kb
