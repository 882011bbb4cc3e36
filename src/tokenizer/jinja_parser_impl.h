// Parser internals shared by the statement parser (jinja_parser.cpp) and the expression
// parser (jinja_parser_expr.cpp): a cursor over the token stream with error helpers and
// nesting guards, and the expression grammar on top of it.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "jinja_ast.h"
#include "jinja_lexer.h"
#include "jinja_parser.h"

namespace dkb::tokenizer::jinja {

class TokenCursor {
 public:
  explicit TokenCursor(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

 protected:
  struct DepthGuard {
    explicit DepthGuard(TokenCursor* p) : parser(p) {
      if (++parser->depth_ > kMaxParseDepth) parser->fail("template nested too deeply");
    }
    ~DepthGuard() { --parser->depth_; }
    TokenCursor* parser;
  };

  const Token& peek(size_t ahead = 0) const {
    size_t i = std::min(pos_ + ahead, toks_.size() - 1);
    return toks_[i];
  }
  const Token& next() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }
  bool is_op(const char* op, size_t ahead = 0) const {
    return peek(ahead).type == Tok::kOp && peek(ahead).text == op;
  }
  bool is_name(const char* name, size_t ahead = 0) const {
    return peek(ahead).type == Tok::kName && peek(ahead).text == name;
  }
  bool accept_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool accept_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case Tok::kEof:
        return "end of template";
      case Tok::kText:
        return "text";
      case Tok::kVarBegin:
        return "'{{'";
      case Tok::kVarEnd:
        return "'}}'";
      case Tok::kBlockBegin:
        return "'{%'";
      case Tok::kBlockEnd:
        return "'%}'";
      case Tok::kString:
        return "string literal";
      default:
        return "'" + t.text + "'";
    }
  }

  [[noreturn]] void fail(const std::string& msg) const { fail_at(msg, peek()); }
  [[noreturn]] void fail_at(const std::string& msg, const Token& t) const {
    throw Error(msg, t.line, t.col);
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) fail(std::string("expected '") + op + "', got " + describe(peek()));
  }
  void expect(Tok type, const char* what) {
    if (peek().type != type) fail(std::string("expected ") + what + ", got " + describe(peek()));
    next();
  }
  std::string expect_name() {
    if (peek().type != Tok::kName) fail("expected a name, got " + describe(peek()));
    return next().text;
  }

  template <typename T>
  std::unique_ptr<T> node(const Token& at) {
    auto n = std::make_unique<T>();
    n->line = at.line;
    n->col = at.col;
    return n;
  }
  ExprPtr expr_node(ExprKind kind, const Token& at) {
    auto e = node<Expr>(at);
    e->kind = kind;
    return e;
  }

  // Records the subtree height of e and rejects trees too deep to evaluate safely.
  ExprPtr seal(ExprPtr e) {
    int d = 0;
    for (const auto& a : e->args) {
      if (a) d = std::max(d, a->depth);
    }
    for (const auto& kv : e->kwargs) d = std::max(d, kv.second->depth);
    e->depth = d + 1;
    if (e->depth > kMaxExprDepth) {
      throw Error("expression nested too deeply", e->line, e->col);
    }
    return e;
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
};

class ExprParser : public TokenCursor {
 public:
  using TokenCursor::TokenCursor;

  ExprPtr parse_expression(bool with_cond = true);
  // Parses `| filter(args)` and `is [not] test args` chains; with a null input parses a
  // single filter application for {% filter %} blocks.
  ExprPtr parse_filter_tail(ExprPtr e, const Token& block_at);

 private:
  ExprPtr binary(ExprKind kind, const Token& at, std::string op, ExprPtr l, ExprPtr r);
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter = true);
  bool starts_test_arg() const;
  void parse_call_args(Expr& call);
  ExprPtr parse_primary();
  ExprPtr parse_postfix(ExprPtr e);
  ExprPtr parse_subscript(ExprPtr obj, const Token& at);
};

}  // namespace dkb::tokenizer::jinja
