// Byte-level BPE (llama.cpp's llm_tokenizer_bpe): pre-tokenize into byte-encoded words, then
// within each word repeatedly merge the adjacent pair with the lowest merge rank.
#include <queue>

#include "unicode.h"
#include "vocab.h"

namespace dkb::tokenizer {
namespace {

struct Symbol {
  int prev;
  int next;
  const char* text;
  size_t n;
};

struct Bigram {
  int left;
  int right;
  std::string text;
  int rank;
};

struct BigramGreater {
  bool operator()(const Bigram& l, const Bigram& r) const {
    return l.rank > r.rank || (l.rank == r.rank && l.left > r.left);
  }
};

void merge_word(const Vocab& v, const std::string& word, std::vector<TokenId>& out) {
  std::vector<Symbol> symbols;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramGreater> queue;
  auto add_bigram = [&](int left, int right) {
    if (left == -1 || right == -1) return;
    const std::string_view l(symbols[left].text, symbols[left].n);
    const std::string_view r(symbols[right].text, symbols[right].n);
    const int rank = v.bpe_rank(l, r);
    if (rank < 0) return;
    queue.push(Bigram{left, right, std::string(l) + std::string(r), rank});
  };

  size_t offset = 0;
  if (v.ignore_merges && v.find(word) >= 0) {
    symbols.push_back(Symbol{-1, -1, word.c_str(), word.size()});
    offset = word.size();
  }
  int index = 0;
  while (offset < word.size()) {
    Symbol sym;
    sym.text = word.c_str() + offset;
    sym.n = std::min(word.size() - offset, uni::len_utf8(word[offset]));
    offset += sym.n;
    sym.prev = index - 1;
    sym.next = offset == word.size() ? -1 : index + 1;
    ++index;
    symbols.push_back(sym);
  }
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) add_bigram(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = symbols[b.left];
    Symbol& r = symbols[b.right];
    if (l.n == 0 || r.n == 0) continue;
    if (l.n + r.n != b.text.size() ||
        std::string_view(l.text, l.n + r.n) != b.text || l.text + l.n != r.text) {
      continue;  // outdated
    }
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = b.left;
    add_bigram(l.prev, b.left);
    add_bigram(b.left, l.next);
  }

  for (const Symbol& s : symbols) {
    if (s.n == 0) continue;
    const std::string_view str(s.text, s.n);
    const TokenId id = v.find(str);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // llama.cpp looks each raw byte up on its own and drops those that are not tokens.
    for (char c : str) {
      const TokenId b = v.find(std::string_view(&c, 1));
      if (b >= 0) out.push_back(b);
    }
  }
}

}  // namespace

void tokenize_bpe(const Vocab& v, std::string_view text, std::vector<TokenId>& out) {
  for (const std::string& word : v.pre->split(text)) merge_word(v, word, out);
}

}  // namespace dkb::tokenizer
