// SentencePiece-style tokenization (llama.cpp's llm_tokenizer_spm): start from UTF-8
// characters, repeatedly merge the adjacent pair whose concatenation is the best-scoring
// vocabulary token, then fall back to <0xXX> byte tokens for pieces the vocabulary lacks.
#include <map>
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
  float score;
  size_t size;
};

struct BigramLess {
  bool operator()(const Bigram& l, const Bigram& r) const {
    return l.score < r.score || (l.score == r.score && l.left > r.left);
  }
};

class SpmSession {
 public:
  explicit SpmSession(const Vocab& v) : v_(v) {}

  void tokenize(const std::string& text, std::vector<TokenId>& out) {
    int index = 0;
    size_t offs = 0;
    while (offs < text.size()) {
      Symbol sym;
      sym.text = text.c_str() + offs;
      sym.n = std::min(uni::len_utf8(text[offs]), text.size() - offs);
      offs += sym.n;
      sym.prev = index - 1;
      sym.next = offs == text.size() ? -1 : index + 1;
      ++index;
      symbols_.push_back(sym);
    }
    for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) try_add_bigram(i - 1, i);

    while (!queue_.empty()) {
      const Bigram b = queue_.top();
      queue_.pop();
      Symbol& l = symbols_[b.left];
      Symbol& r = symbols_[b.right];
      if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) symbols_[r.next].prev = b.left;
      try_add_bigram(l.prev, b.left);
      try_add_bigram(b.left, l.next);
    }
    if (symbols_.empty()) return;
    for (int i = 0; i != -1; i = symbols_[i].next) resegment(symbols_[i], out);
  }

 private:
  void resegment(const Symbol& s, std::vector<TokenId>& out) {
    const std::string text(s.text, s.n);
    const TokenId id = v_.find(text);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
    auto p = rev_merge_.find(text);
    if (p == rev_merge_.end()) {
      for (size_t j = 0; j < s.n; ++j) {
        const TokenId b = v_.byte_to_token(static_cast<uint8_t>(s.text[j]));
        if (b >= 0) out.push_back(b);  // vocabularies without byte tokens drop the byte
      }
      return;
    }
    resegment(symbols_[p->second.first], out);
    resegment(symbols_[p->second.second], out);
  }

  void try_add_bigram(int left, int right) {
    if (left == -1 || right == -1) return;
    const std::string text(symbols_[left].text, symbols_[left].n + symbols_[right].n);
    const TokenId id = v_.find(text);
    if (id < 0 || id >= v_.n_tokens()) return;
    queue_.push(Bigram{left, right, v_.score[id], text.size()});
    rev_merge_[text] = {left, right};
  }

  const Vocab& v_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramLess> queue_;
  std::map<std::string, std::pair<int, int>> rev_merge_;
};

}  // namespace

void tokenize_spm(const Vocab& v, const std::string& text, std::vector<TokenId>& out) {
  SpmSession session(v);
  session.tokenize(text, out);
}

}  // namespace dkb::tokenizer
