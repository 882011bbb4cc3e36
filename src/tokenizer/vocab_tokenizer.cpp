#include "vocab_tokenizer.h"

#include <cctype>

#include "base/utf8.h"
#include "unicode.h"

namespace dkb::tokenizer {

std::vector<VocabTokenizer::Fragment> VocabTokenizer::partition(std::string_view raw,
                                                                bool parse_special) const {
  std::vector<Fragment> frags;
  if (raw.empty()) return frags;
  frags.push_back(Fragment{false, -1, 0, raw.size()});
  std::vector<Fragment> next;
  for (TokenId sid : v_.special_tokens) {
    const uint32_t a = v_.attr[sid];
    // Control and unknown tokens only when parsing specials; user-defined ones always.
    if (!parse_special && (a & (kAttrControl | kAttrUnknown))) continue;
    const std::string& t = v_.text[sid];
    if (t.empty()) continue;
    next.clear();
    for (const Fragment& f : frags) {
      if (f.is_token) {
        next.push_back(f);
        continue;
      }
      size_t off = f.off;
      size_t len = f.len;
      while (true) {
        const size_t m = raw.find(t, off);
        if (m == std::string_view::npos || m + t.size() > off + len) {
          if (len > 0) next.push_back(Fragment{false, -1, off, len});
          break;
        }
        if (m > off) {
          size_t left_len = m - off;
          if (a & kAttrLstrip) {
            while (left_len > 0 && std::isspace(static_cast<unsigned char>(raw[off + left_len - 1]))) {
              --left_len;
            }
          }
          if (left_len > 0) next.push_back(Fragment{false, -1, off, left_len});
        }
        next.push_back(Fragment{true, sid, 0, 0});
        if (m + t.size() >= off + len) break;
        size_t r_off = m + t.size();
        size_t r_len = len - ((m - off) + t.size());
        if (a & kAttrRstrip) {
          while (r_len > 0 && std::isspace(static_cast<unsigned char>(raw[r_off]))) {
            ++r_off;
            --r_len;
          }
        }
        off = r_off;
        len = r_len;
      }
    }
    frags.swap(next);
  }
  return frags;
}

std::vector<TokenId> VocabTokenizer::encode(std::string_view text_in,
                                            const EncodeOptions& opt) const {
  std::vector<TokenId> out;
  std::string normalized;
  std::string_view text = text_in;
  if (v_.normalize_nfc) {
    normalized = uni::nfc(text_in);
    text = normalized;
  }
  const std::vector<Fragment> frags = partition(text, opt.parse_special);
  switch (v_.type) {
    case VocabType::kSpm: {
      bool prev_special = true;  // the first fragment gets the space prefix
      if (opt.add_special && v_.add_bos && v_.bos >= 0) out.push_back(v_.bos);
      std::string buf;
      for (const Fragment& f : frags) {
        if (f.is_token) {
          out.push_back(f.id);
          prev_special = true;
          continue;
        }
        buf.clear();
        if (v_.add_space_prefix && prev_special) buf.push_back(' ');
        buf.append(text.substr(f.off, f.len));
        std::string escaped;
        escaped.reserve(buf.size() + 8);
        for (char c : buf) {
          if (c == ' ') {
            escaped += "\xE2\x96\x81";
          } else {
            escaped += c;
          }
        }
        tokenize_spm(v_, escaped, out);
        prev_special = false;
      }
      if (opt.add_special && v_.add_eos && v_.eos >= 0) out.push_back(v_.eos);
      break;
    }
    case VocabType::kBpe: {
      if (opt.add_special && v_.add_bos && v_.bos >= 0) out.push_back(v_.bos);
      for (const Fragment& f : frags) {
        if (f.is_token) {
          out.push_back(f.id);
        } else {
          tokenize_bpe(v_, text.substr(f.off, f.len), out);
        }
      }
      if (opt.add_special && v_.add_eos && v_.eos >= 0) out.push_back(v_.eos);
      break;
    }
    case VocabType::kWpm: {
      if (opt.add_special && v_.bos >= 0) out.push_back(v_.bos);
      for (const Fragment& f : frags) {
        if (f.is_token) {
          out.push_back(f.id);
        } else {
          tokenize_wpm(v_, text.substr(f.off, f.len), out);
        }
      }
      if (opt.add_special && v_.sep >= 0) out.push_back(v_.sep);
      break;
    }
  }
  return out;
}

std::string VocabTokenizer::token_to_piece(TokenId id, bool render_special) const {
  if (id < 0 || id >= v_.n_tokens()) return {};
  if (!render_special && (v_.attr[id] & (kAttrUnknown | kAttrControl))) return {};
  return v_.piece_cache[id];
}

std::string VocabTokenizer::detokenize(const std::vector<TokenId>& ids_in, bool remove_special,
                                       bool unparse_special) const {
  size_t first = 0;
  size_t last = ids_in.size();
  bool remove_space = v_.add_space_prefix;
  if (remove_special && v_.add_bos && last > first && ids_in[first] == v_.bos) {
    remove_space = false;
    ++first;
  }
  if (remove_special && v_.add_eos && last > first && ids_in[last - 1] == v_.eos) --last;

  std::string text;
  for (size_t i = first; i < last; ++i) {
    std::string piece = token_to_piece(ids_in[i], unparse_special);
    if (remove_space && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    remove_space = false;
    text += piece;
  }
  if (!v_.clean_spaces || text.empty()) return text;

  // llama.cpp's clean_up_tokenization_spaces, three passes.
  std::string a;
  a += text[0];
  for (size_t i = 1; i < text.size(); ++i) {
    const char x = text[i];
    if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) a.pop_back();
    a += x;
  }
  std::string b;
  b += a[0];
  for (size_t i = 1; i < a.size(); ++i) {
    const char x = a[i];
    if (x == '\'' && i + 1 < a.size() && a[i - 1] == ' ' && a[i + 1] == ' ') {
      b.pop_back();  // " ' " -> "'": drop both spaces
      b += x;
      a[++i] = '\0';  // llama.cpp overwrites the skipped space in place
      continue;
    }
    b += x;
  }
  std::string c;
  c += b[0];
  for (size_t i = 1; i < b.size(); ++i) {
    const char x = b[i];
    if (b[i - 1] == ' ' && x == '\'' && i + 1 < b.size()) {
      const char x1 = b[i + 1];
      if (x1 == 's' || x1 == 'm') {
        c.pop_back();
      } else if (i + 2 < b.size()) {
        const char x2 = b[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) c.pop_back();
      }
    }
    c += x;
  }
  return c;
}

bool VocabTokenizer::is_control(TokenId id) const {
  return id >= 0 && id < v_.n_tokens() && (v_.attr[id] & kAttrControl);
}

TokenAttr VocabTokenizer::attr(TokenId id) const {
  if (id < 0 || id >= v_.n_tokens()) return TokenAttr::kUndefined;
  const uint32_t a = v_.attr[id];
  if (a & kAttrControl) return TokenAttr::kControl;
  if (a & kAttrUserDefined) return TokenAttr::kUserDefined;
  if (a & kAttrByte) return TokenAttr::kByte;
  if (a & kAttrUnknown) return TokenAttr::kUnknown;
  if (a & kAttrUnused) return TokenAttr::kUnused;
  if (a & kAttrNormal) return TokenAttr::kNormal;
  return TokenAttr::kUndefined;
}

float VocabTokenizer::score(TokenId id) const {
  return id >= 0 && id < v_.n_tokens() ? v_.score[id] : 0.0f;
}

std::string_view VocabTokenizer::text(TokenId id) const {
  if (id < 0 || id >= v_.n_tokens()) return {};
  return v_.text[id];
}

// ---- Tokenizer / StreamingDecoder (declared in tokenizer.h) ----

std::string Tokenizer::decode(const std::vector<TokenId>& ids, bool render_special) const {
  return detokenize(ids, false, render_special);
}

namespace {

// Valid UTF-8 copy of s: each byte of a malformed sequence becomes U+FFFD.
std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const size_t start = i;
    const uint32_t cp = utf8::decode(s, i);
    if (cp == 0xFFFD && i - start != 3) {
      utf8::append(out, 0xFFFD);
    } else {
      out.append(s.substr(start, i - start));
    }
  }
  return out;
}

}  // namespace

std::string StreamingDecoder::push(TokenId id) {
  pending_ += tok_.token_to_piece(id, false);
  const size_t keep = utf8::incomplete_tail(pending_);
  std::string out = sanitize(std::string_view(pending_).substr(0, pending_.size() - keep));
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StreamingDecoder::flush() {
  std::string out = sanitize(pending_);
  pending_.clear();
  return out;
}

}  // namespace dkb::tokenizer
