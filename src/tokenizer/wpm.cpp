// WordPiece (llama.cpp's llm_tokenizer_wpm, BERT vocabularies): NFD (first code point),
// lower-case, split on white space, punctuation and CJK characters, then greedy longest-match
// against the vocabulary, where word starts carry the U+2581 phantom space (llama.cpp's
// converter stores "##" continuations without the prefix and word starts with U+2581).
#include "unicode.h"
#include "vocab.h"

namespace dkb::tokenizer {
namespace {

bool is_chinese_char(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::vector<std::string> preprocess(std::string_view text) {
  std::vector<std::string> words(1);
  for (uint32_t raw : uni::cpts_from_utf8(text)) {
    const uint32_t cp = uni::nfd_first(raw);
    const uni::CpFlags f = uni::flags(cp);
    if (f.is_whitespace()) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cp == 0 || cp == 0xFFFD || f.is_control()) continue;
    const std::string s = uni::cpt_to_utf8(uni::to_lower(cp));
    if (f.is_punctuation() || (cp < 0x7F && f.is_symbol()) || is_chinese_char(cp)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = s;
      words.emplace_back();
    } else {
      words.back() += s;
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

}  // namespace

void tokenize_wpm(const Vocab& v, std::string_view text, std::vector<TokenId>& out) {
  for (const std::string& word : preprocess(text)) {
    if (word.empty()) continue;
    const std::string w = "\xE2\x96\x81" + word;
    const int n = static_cast<int>(w.size());
    const size_t before = out.size();
    for (int i = 0; i < n; ++i) {
      bool match = false;
      for (int j = std::min(n, i + v.max_token_len + 1); j > i; --j) {
        const TokenId id = v.find(std::string_view(w).substr(i, j - i));
        if (id >= 0) {
          out.push_back(id);
          match = true;
          i = j - 1;
          break;
        }
      }
      if (!match) {
        out.resize(before);
        break;
      }
    }
    if (out.size() == before) out.push_back(v.unk);
  }
}

}  // namespace dkb::tokenizer
