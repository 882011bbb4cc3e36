// Parser: token stream -> AST (jinja_ast.h). Recursive descent following Jinja's grammar
// and operator precedence (or < and < not < comparisons/in < + - < ~ < * / // % < ** <
// unary, with filters `|` and tests `is` binding to the operand before them).
#pragma once

#include <vector>

#include "jinja_ast.h"
#include "jinja_lexer.h"

namespace dkb::tokenizer::jinja {

// Maximum nesting of blocks and sub-expressions the parser accepts.
constexpr int kMaxParseDepth = 200;
// Maximum height of an expression tree (long operator chains such as a + b + c ...).
constexpr int kMaxExprDepth = 512;

// Throws jinja::Error naming line:column on a syntax error.
Body parse(std::vector<Token> tokens);

}  // namespace dkb::tokenizer::jinja
