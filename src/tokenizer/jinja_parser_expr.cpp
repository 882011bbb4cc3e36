// Expression grammar of the Jinja parser.
#include "jinja_eval.h"
#include "jinja_parser_impl.h"

namespace dkb::tokenizer::jinja {

ExprPtr ExprParser::parse_expression(bool with_cond) {
  DepthGuard guard(this);
  const Token& at = peek();
  ExprPtr e = parse_or();
  if (with_cond && is_name("if")) {
    next();
    auto c = expr_node(ExprKind::kCond, at);
    c->args.push_back(std::move(e));
    c->args.push_back(parse_or());
    c->args.push_back(accept_name("else") ? parse_expression() : nullptr);
    return seal(std::move(c));
  }
  return e;
}

ExprPtr ExprParser::binary(ExprKind kind, const Token& at, std::string op, ExprPtr l, ExprPtr r) {
  auto e = expr_node(kind, at);
  e->name = std::move(op);
  e->args.push_back(std::move(l));
  e->args.push_back(std::move(r));
  return seal(std::move(e));
}

ExprPtr ExprParser::parse_or() {
  ExprPtr e = parse_and();
  while (is_name("or")) {
    const Token& at = next();
    e = binary(ExprKind::kOr, at, "or", std::move(e), parse_and());
  }
  return e;
}
ExprPtr ExprParser::parse_and() {
  ExprPtr e = parse_not();
  while (is_name("and")) {
    const Token& at = next();
    e = binary(ExprKind::kAnd, at, "and", std::move(e), parse_not());
  }
  return e;
}
ExprPtr ExprParser::parse_not() {
  if (is_name("not")) {
    DepthGuard guard(this);
    auto e = expr_node(ExprKind::kUnary, next());
    e->name = "not";
    e->args.push_back(parse_not());
    return seal(std::move(e));
  }
  return parse_compare();
}
ExprPtr ExprParser::parse_compare() {
  ExprPtr e = parse_math1();
  while (true) {
    const Token& at = peek();
    if (at.type == Tok::kOp && (at.text == "==" || at.text == "!=" || at.text == "<" ||
                                at.text == ">" || at.text == "<=" || at.text == ">=")) {
      std::string op = next().text;
      e = binary(ExprKind::kBinary, at, op, std::move(e), parse_math1());
    } else if (is_name("in")) {
      next();
      e = binary(ExprKind::kBinary, at, "in", std::move(e), parse_math1());
    } else if (is_name("not") && is_name("in", 1)) {
      next();
      next();
      e = binary(ExprKind::kBinary, at, "in", std::move(e), parse_math1());
      e->negated = true;
    } else {
      return e;
    }
  }
}
ExprPtr ExprParser::parse_math1() {
  ExprPtr e = parse_concat();
  while (is_op("+") || is_op("-")) {
    const Token& at = next();
    e = binary(ExprKind::kBinary, at, at.text, std::move(e), parse_concat());
  }
  return e;
}
ExprPtr ExprParser::parse_concat() {
  ExprPtr e = parse_math2();
  while (is_op("~")) {
    const Token& at = next();
    e = binary(ExprKind::kBinary, at, "~", std::move(e), parse_math2());
  }
  return e;
}
ExprPtr ExprParser::parse_math2() {
  ExprPtr e = parse_pow();
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    const Token& at = next();
    e = binary(ExprKind::kBinary, at, at.text, std::move(e), parse_pow());
  }
  return e;
}
ExprPtr ExprParser::parse_pow() {
  ExprPtr e = parse_unary();
  while (is_op("**")) {
    const Token& at = next();
    e = binary(ExprKind::kBinary, at, "**", std::move(e), parse_unary());
  }
  return e;
}
// As in Jinja, the operand of unary -/+ takes no filters: `-3|abs` is `(-3)|abs`.
ExprPtr ExprParser::parse_unary(bool with_filter) {
  DepthGuard guard(this);
  ExprPtr e;
  if (is_op("-") || is_op("+")) {
    const Token& at = next();
    e = expr_node(ExprKind::kUnary, at);
    e->name = at.text;
    e->args.push_back(parse_unary(false));
    e = seal(std::move(e));
  } else {
    e = parse_primary();
  }
  e = parse_postfix(std::move(e));
  return with_filter ? parse_filter_tail(std::move(e), peek()) : std::move(e);
}

ExprPtr ExprParser::parse_filter_tail(ExprPtr e, const Token& block_at) {
  bool block = e == nullptr;
  while (true) {
    if (block || is_op("|")) {
      const Token& at = block ? block_at : next();
      auto f = expr_node(ExprKind::kFilter, at);
      const Token& name_tok = peek();
      f->name = expect_name();
      if (!is_known_filter(f->name)) fail_at("no filter named '" + f->name + "'", name_tok);
      f->args.push_back(std::move(e));
      if (accept_op("(")) parse_call_args(*f);
      e = parse_postfix(seal(std::move(f)));
      if (block) return e;
    } else if (is_name("is")) {
      const Token& at = next();
      auto t = expr_node(ExprKind::kTest, at);
      t->negated = accept_name("not");
      const Token& name_tok = peek();
      t->name = expect_name();
      if (!is_known_test(t->name)) fail_at("no test named '" + t->name + "'", name_tok);
      t->args.push_back(std::move(e));
      if (accept_op("(")) {
        parse_call_args(*t);
      } else if (starts_test_arg()) {
        t->args.push_back(parse_postfix(parse_primary()));
      }
      e = seal(std::move(t));
    } else {
      return e;
    }
  }
}

bool ExprParser::starts_test_arg() const {
  const Token& t = peek();
  if (t.type == Tok::kName) {
    static const char* const kStop[] = {"else", "or", "and", "if", "is", "in", "not"};
    return std::none_of(std::begin(kStop), std::end(kStop),
                        [&](const char* s) { return t.text == s; });
  }
  return t.type == Tok::kString || t.type == Tok::kInt || t.type == Tok::kFloat || is_op("[") ||
         is_op("{");
}

void ExprParser::parse_call_args(Expr& call) {
  while (!is_op(")")) {
    if (peek().type == Tok::kName && is_op("=", 1)) {
      std::string key = next().text;
      next();
      call.kwargs.emplace_back(key, parse_expression());
    } else {
      if (!call.kwargs.empty()) fail("positional argument after keyword argument");
      call.args.push_back(parse_expression());
    }
    if (!accept_op(",")) break;
  }
  expect_op(")");
}

ExprPtr ExprParser::parse_primary() {
  const Token& t = peek();
  switch (t.type) {
    case Tok::kName: {
      next();
      auto e = expr_node(ExprKind::kLiteral, t);
      if (t.text == "true" || t.text == "True") {
        e->literal = true;
      } else if (t.text == "false" || t.text == "False") {
        e->literal = false;
      } else if (t.text == "none" || t.text == "None") {
        e->literal = None{};
      } else {
        e->kind = ExprKind::kName;
        e->name = t.text;
      }
      return e;
    }
    case Tok::kString: {
      auto e = expr_node(ExprKind::kLiteral, t);
      std::string s;
      while (peek().type == Tok::kString) s += next().text;
      e->literal = std::move(s);
      return e;
    }
    case Tok::kInt: {
      auto e = expr_node(ExprKind::kLiteral, next());
      e->literal = t.int_value;
      return e;
    }
    case Tok::kFloat: {
      auto e = expr_node(ExprKind::kLiteral, next());
      e->literal = t.float_value;
      return e;
    }
    default:
      break;
  }
  if (accept_op("(")) {
    auto tuple = expr_node(ExprKind::kTuple, t);
    if (accept_op(")")) return tuple;
    ExprPtr e = parse_expression();
    if (!is_op(",")) {
      expect_op(")");
      return e;
    }
    tuple->args.push_back(std::move(e));
    while (accept_op(",") && !is_op(")")) tuple->args.push_back(parse_expression());
    expect_op(")");
    return seal(std::move(tuple));
  }
  if (accept_op("[")) {
    auto list = expr_node(ExprKind::kList, t);
    while (!is_op("]")) {
      list->args.push_back(parse_expression());
      if (!accept_op(",")) break;
    }
    expect_op("]");
    return seal(std::move(list));
  }
  if (accept_op("{")) {
    auto dict = expr_node(ExprKind::kDict, t);
    while (!is_op("}")) {
      dict->args.push_back(parse_expression());
      expect_op(":");
      dict->args.push_back(parse_expression());
      if (!accept_op(",")) break;
    }
    expect_op("}");
    return seal(std::move(dict));
  }
  fail("unexpected " + describe(t));
}

ExprPtr ExprParser::parse_postfix(ExprPtr e) {
  while (true) {
    const Token& at = peek();
    if (accept_op(".")) {
      auto g = expr_node(ExprKind::kGetAttr, at);
      if (peek().type == Tok::kInt) {
        g->kind = ExprKind::kGetItem;
        auto idx = expr_node(ExprKind::kLiteral, peek());
        idx->literal = next().int_value;
        g->args.push_back(std::move(e));
        g->args.push_back(std::move(idx));
      } else {
        g->name = expect_name();
        g->args.push_back(std::move(e));
      }
      e = seal(std::move(g));
    } else if (accept_op("[")) {
      e = seal(parse_subscript(std::move(e), at));
    } else if (accept_op("(")) {
      auto c = expr_node(ExprKind::kCall, at);
      c->args.push_back(std::move(e));
      parse_call_args(*c);
      e = seal(std::move(c));
    } else {
      return e;
    }
  }
}

ExprPtr ExprParser::parse_subscript(ExprPtr obj, const Token& at) {
  ExprPtr parts[3];
  int n = 0;
  bool slice = false;
  while (true) {
    if (!is_op(":") && !is_op("]")) parts[n] = parse_expression();
    if (n < 2 && accept_op(":")) {
      slice = true;
      ++n;
      continue;
    }
    break;
  }
  expect_op("]");
  auto e = expr_node(slice ? ExprKind::kSlice : ExprKind::kGetItem, at);
  e->args.push_back(std::move(obj));
  if (!slice) {
    if (!parts[0]) fail_at("empty subscript", at);
    e->args.push_back(std::move(parts[0]));
  } else {
    for (auto& p : parts) e->args.push_back(std::move(p));
  }
  return e;
}

}  // namespace dkb::tokenizer::jinja
