// Lexer for Jinja templates; see jinja_lexer.h for the whitespace rules it implements.
#include "jinja_lexer.h"

#include <algorithm>
#include <cstring>

#include "base/utf8.h"
#include "jinja_value.h"

namespace dkb::tokenizer::jinja {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

class Lexer {
 public:
  Lexer(const std::string& src, const LexOptions& opt) : opt_(opt) {
    // Jinja normalises \r\n and lone \r to \n (newline_sequence) in text and literals.
    src_.reserve(src.size());
    for (size_t i = 0; i < src.size(); ++i) {
      if (src[i] == '\r') {
        src_ += '\n';
        if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
      } else {
        src_ += src[i];
      }
    }
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
    if (!opt_.keep_trailing_newline && !src_.empty() && src_.back() == '\n') src_.pop_back();
  }

  std::vector<Token> run() {
    size_t pos = 0;
    const size_t n = src_.size();
    while (pos < n) {
      size_t start = find_tag(pos);
      std::string text = src_.substr(pos, start - pos);
      size_t text_start = pos;
      if (strip_next_) {
        size_t k = 0;
        while (k < text.size() && is_space(text[k])) ++k;
        text.erase(0, k);
        text_start += k;
      } else if (trim_next_) {
        if (text.starts_with("\n")) {
          text.erase(0, 1);
          text_start += 1;
        }
      }
      strip_next_ = trim_next_ = false;
      if (start >= n) {
        emit_text(text, text_start);
        break;
      }
      char kind = src_[start + 1];
      char sign = start + 2 < n ? src_[start + 2] : '\0';
      if (sign == '-') {
        while (!text.empty() && is_space(text.back())) text.pop_back();
      } else if (sign != '+' && opt_.lstrip_blocks && kind != '{') {
        size_t l_pos = text.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        bool line_start = l_pos > 0 || text_start == 0 || src_[text_start - 1] == '\n';
        if (line_start && std::all_of(text.begin() + static_cast<long>(l_pos), text.end(),
                                      [](char c) { return c == ' ' || c == '\t'; })) {
          text.erase(l_pos);
        }
      }
      emit_text(text, text_start);
      pos = start + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
      if (kind == '#') {
        pos = lex_comment(start, pos);
      } else {
        pos = lex_tag(start, pos, kind == '{');
      }
    }
    tokens_.push_back(make(Tok::kEof, "", src_.size()));
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t pos) const {
    while (true) {
      size_t p = src_.find('{', pos);
      if (p == std::string::npos || p + 1 >= src_.size()) return src_.size();
      char c = src_[p + 1];
      if (c == '{' || c == '%' || c == '#') return p;
      pos = p + 1;
    }
  }

  Token make(Tok type, std::string text, size_t offset) const {
    Token t;
    t.type = type;
    t.text = std::move(text);
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line_idx = static_cast<size_t>(it - line_starts_.begin()) - 1;
    t.line = static_cast<int>(line_idx) + 1;
    t.col = static_cast<int>(offset - line_starts_[line_idx]) + 1;
    return t;
  }

  [[noreturn]] void fail(const std::string& msg, size_t offset) const {
    Token t = make(Tok::kEof, "", offset);
    throw Error(msg, t.line, t.col);
  }

  void emit_text(const std::string& text, size_t offset) {
    if (!text.empty()) tokens_.push_back(make(Tok::kText, text, offset));
  }

  // Closing sign handling shared by tags and comments: '-' strips following whitespace;
  // otherwise trim_blocks removes one newline after block/comment tags.
  void after_close(char sign, bool is_block) {
    if (sign == '-') {
      strip_next_ = true;
    } else if (sign != '+' && is_block && opt_.trim_blocks) {
      trim_next_ = true;
    }
  }

  size_t lex_comment(size_t start, size_t pos) {
    size_t end = src_.find("#}", pos);
    if (end == std::string::npos) fail("unclosed comment", start);
    char sign = end > pos && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : '\0';
    after_close(sign, true);
    return end + 2;
  }

  size_t lex_tag(size_t start, size_t pos, bool is_var) {
    tokens_.push_back(make(is_var ? Tok::kVarBegin : Tok::kBlockBegin, "", start));
    size_t first_token = tokens_.size();
    int depth = 0;
    const size_t n = src_.size();
    while (true) {
      while (pos < n && is_space(src_[pos])) ++pos;
      if (pos >= n) fail(is_var ? "unclosed '{{'" : "unclosed '{%'", start);
      const char* close = is_var ? "}}" : "%}";
      char c = src_[pos];
      // Inside brackets `}}` may close a dict literal; `%}` always ends a block tag.
      const bool can_close = depth == 0 || !is_var;
      if (can_close && (c == '-' || c == '+') && src_.compare(pos + 1, 2, close) == 0) {
        tokens_.push_back(make(is_var ? Tok::kVarEnd : Tok::kBlockEnd, "", pos));
        after_close(c, !is_var);
        pos += 3;
        break;
      }
      if (can_close && src_.compare(pos, 2, close) == 0) {
        tokens_.push_back(make(is_var ? Tok::kVarEnd : Tok::kBlockEnd, "", pos));
        after_close('\0', !is_var);
        pos += 2;
        break;
      }
      if (c == '\'' || c == '"') {
        pos = lex_string(pos);
      } else if (is_digit(c)) {
        pos = lex_number(pos);
      } else if (is_name_start(c)) {
        size_t e = pos;
        while (e < n && (is_name_start(src_[e]) || is_digit(src_[e]))) ++e;
        tokens_.push_back(make(Tok::kName, src_.substr(pos, e - pos), pos));
        pos = e;
      } else {
        static const char* const kTwo[] = {"==", "!=", "<=", ">=", "//", "**"};
        std::string op;
        for (const char* t : kTwo) {
          if (src_.compare(pos, 2, t) == 0) op = t;
        }
        if (op.empty()) {
          if (std::strchr("+-*/%~<>()[]{}.,:|=", c) == nullptr) {
            fail("unexpected character '" +
                     src_.substr(pos, dkb::utf8::sequence_length(static_cast<uint8_t>(c))) + "'",
                 pos);
          }
          op = std::string(1, c);
          if (c == '(' || c == '[' || c == '{') ++depth;
          if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
        }
        tokens_.push_back(make(Tok::kOp, op, pos));
        pos += op.size();
      }
    }
    // {% raw %}: everything up to {% endraw %} is literal text.
    if (!is_var && tokens_.size() == first_token + 2 && tokens_[first_token].type == Tok::kName &&
        tokens_[first_token].text == "raw") {
      tokens_.resize(first_token - 1);
      return lex_raw(start, pos);
    }
    return pos;
  }

  size_t lex_raw(size_t start, size_t pos) {
    size_t search = pos;
    while (true) {
      size_t p = src_.find("{%", search);
      if (p == std::string::npos) fail("missing endraw for raw block", start);
      size_t q = p + 2;
      char open_sign = q < src_.size() ? src_[q] : '\0';
      if (open_sign == '-' || open_sign == '+') ++q;
      while (q < src_.size() && is_space(src_[q])) ++q;
      if (src_.compare(q, 6, "endraw") == 0) {
        q += 6;
        while (q < src_.size() && is_space(src_[q])) ++q;
        char sign = '\0';
        if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
        if (src_.compare(q, 2, "%}") == 0) {
          std::string text = src_.substr(pos, p - pos);
          if (strip_next_)
            text.erase(0, std::min(text.size(), text.find_first_not_of(" \t\r\n\v\f")));
          if (open_sign == '-') {
            while (!text.empty() && is_space(text.back())) text.pop_back();
          }
          strip_next_ = trim_next_ = false;
          emit_text(text, pos);
          after_close(sign, true);
          return q + 2;
        }
      }
      search = p + 2;
    }
  }

  size_t lex_string(size_t pos) {
    char quote = src_[pos];
    std::string out;
    size_t i = pos + 1;
    const size_t n = src_.size();
    while (true) {
      if (i >= n) fail("unterminated string literal", pos);
      char c = src_[i];
      if (c == quote) break;
      if (c != '\\') {
        out += c;
        ++i;
        continue;
      }
      if (i + 1 >= n) fail("unterminated string literal", pos);
      char e = src_[i + 1];
      i += 2;
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case 'a':
          out += '\a';
          break;
        case '0':
          out += '\0';
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case '\n':
          break;
        case 'x':
        case 'u':
        case 'U': {
          size_t len = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          if (i + len > n) fail("truncated escape in string literal", i - 2);
          uint32_t cp = 0;
          for (size_t k = 0; k < len; ++k) {
            char h = src_[i + k];
            int d = is_digit(h)              ? h - '0'
                    : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                    : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                             : -1;
            if (d < 0) fail("invalid escape in string literal", i - 2);
            cp = cp * 16 + static_cast<uint32_t>(d);
          }
          i += len;
          dkb::utf8::append(out, cp);
          break;
        }
        default:
          out += '\\';
          out += e;
      }
    }
    tokens_.push_back(make(Tok::kString, std::move(out), pos));
    return i + 1;
  }

  size_t lex_number(size_t pos) {
    size_t i = pos;
    const size_t n = src_.size();
    std::string digits;
    bool is_float = false;
    auto take_digits = [&] {
      while (i < n && (is_digit(src_[i]) || src_[i] == '_')) {
        if (src_[i] != '_') digits += src_[i];
        ++i;
      }
    };
    take_digits();
    if (i + 1 < n && src_[i] == '.' && is_digit(src_[i + 1])) {
      is_float = true;
      digits += src_[i++];
      take_digits();
    }
    if (i < n && (src_[i] == 'e' || src_[i] == 'E')) {
      size_t j = i + 1;
      if (j < n && (src_[j] == '+' || src_[j] == '-')) ++j;
      if (j < n && is_digit(src_[j])) {
        is_float = true;
        digits += 'e';
        digits += src_.substr(i + 1, j - i - 1);
        i = j;
        take_digits();
      }
    }
    Token t = make(is_float ? Tok::kFloat : Tok::kInt, digits, pos);
    try {
      if (is_float) {
        t.float_value = std::stod(digits);
      } else {
        t.int_value = std::stoll(digits);
      }
    } catch (const std::exception&) {
      fail("number literal out of range", pos);
    }
    tokens_.push_back(std::move(t));
    return i;
  }

  std::string src_;
  const LexOptions& opt_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
  bool strip_next_ = false;
  bool trim_next_ = false;
};

}  // namespace

std::vector<Token> lex(const std::string& source, const LexOptions& options) {
  return Lexer(source, options).run();
}

}  // namespace dkb::tokenizer::jinja
