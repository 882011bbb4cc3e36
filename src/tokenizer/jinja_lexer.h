// Lexer: template source -> flat token stream (text runs and tag contents).
//
// Implements Jinja's whitespace rules: `{%-`/`-%}` (also for {{ }} and {# #}) strip all
// adjacent whitespace; trim_blocks removes the first newline after a block or comment tag;
// \r\n and \r become \n as in Jinja;
// lstrip_blocks removes spaces/tabs before a block or comment tag at the start of a line
// (`{%+` disables it); a single trailing newline of the source is dropped unless
// keep_trailing_newline. `{% raw %}...{% endraw %}` is emitted as text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dkb::tokenizer::jinja {

enum class Tok {
  kText,
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,
  kInt,
  kFloat,
  kOp,
  kEof,
};

struct Token {
  Tok type = Tok::kEof;
  std::string text;  // text, name, decoded string literal, or operator
  int64_t int_value = 0;
  double float_value = 0;
  int line = 1;
  int col = 1;
};

struct LexOptions {
  bool trim_blocks = false;
  bool lstrip_blocks = false;
  bool keep_trailing_newline = false;
};

// Throws jinja::Error (with line:column) on malformed tags or literals.
std::vector<Token> lex(const std::string& source, const LexOptions& options);

}  // namespace dkb::tokenizer::jinja
