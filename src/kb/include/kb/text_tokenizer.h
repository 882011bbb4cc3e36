// CJK-aware word tokenizer shared by indexing, querying and highlighting.
//
// Rules (one pass over code points; byte offsets refer to the input):
//  - Letters, digits and marks outside CJK scripts form words, lower-cased; non-ASCII words
//    are NFKC-normalized and case-folded (utf8proc), so "Models" → "models", "ＧＰＵ" → "gpu",
//    "Straße" → "strasse". Apostrophes and punctuation split words.
//  - Han, Hiragana, Katakana and Hangul characters form "CJK runs". In kIndex mode a run emits
//    every character (unigram) and every adjacent pair (bigram, colocated with its first
//    character). In kQuery mode a run of length 1 emits the unigram, longer runs emit only
//    their bigrams — so "库" matches via unigrams and "模型" via the bigram, and BM25 over
//    bigrams ranks long CJK queries well.
//  - Everything else (spaces, punctuation, symbols, invalid bytes) separates tokens.
// Tokens are at most kMaxTokenBytes bytes (longer words are truncated, offsets kept).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dkb::kb {

inline constexpr size_t kMaxTokenBytes = 64;
// Distinct terms used from one query (bounds the cost of pasted-in walls of text).
inline constexpr size_t kMaxQueryTerms = 256;

enum class TokenizeMode { kIndex, kQuery };

struct TextToken {
  std::string text;        // normalized token
  size_t start = 0;        // byte offset of the first source byte
  size_t end = 0;          // byte offset one past the last source byte
  bool colocated = false;  // same position as the previous token (index bigrams)
};

std::vector<TextToken> tokenize_text(std::string_view text, TokenizeMode mode);

// True for code points treated as CJK (Han, kana, Hangul, CJK compatibility ideographs).
bool is_cjk(uint32_t cp);

// Builds an FTS5 MATCH expression: the first kMaxQueryTerms distinct query tokens, quoted,
// joined by OR. Query text can never inject FTS5 syntax.
// Empty when the text has no tokens.
std::string fts5_match_expression(std::string_view query);

// Wraps every span of `text` whose index-mode token equals a query-mode token of `query` in
// open/close markers; overlapping and touching spans merge ("[模型库]"). Uses the same
// tokenization as indexing, so what matched is what gets marked.
std::string highlight_text(std::string_view text, std::string_view query, std::string_view open,
                           std::string_view close);

}  // namespace dkb::kb
