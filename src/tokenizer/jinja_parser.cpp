// Recursive-descent parser for Jinja statements and expressions.
#include "jinja_parser.h"

#include <algorithm>
#include <initializer_list>

#include "jinja_eval.h"

namespace dkb::tokenizer::jinja {
namespace {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Body run() {
    std::string found;
    Body body = parse_until({}, &found);
    return body;
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(Parser* p) : parser(p) {
      if (++parser->depth_ > kMaxParseDepth) parser->fail("template nested too deeply");
    }
    ~DepthGuard() { --parser->depth_; }
    Parser* parser;
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
      case Tok::kEof: return "end of template";
      case Tok::kText: return "text";
      case Tok::kVarBegin: return "'{{'";
      case Tok::kVarEnd: return "'}}'";
      case Tok::kBlockBegin: return "'{%'";
      case Tok::kBlockEnd: return "'%}'";
      case Tok::kString: return "string literal";
      default: return "'" + t.text + "'";
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

  // Parses statements until `{% <end> ...` for one of `ends`; leaves the stream after the
  // end name. With no ends, parses to end of template.
  Body parse_until(std::initializer_list<const char*> ends, std::string* found,
                   const Token* opener = nullptr) {
    DepthGuard guard(this);
    Body body;
    while (true) {
      const Token& t = peek();
      if (t.type == Tok::kEof) {
        if (ends.size() == 0) return body;
        std::string msg = "unexpected end of template, expected ";
        for (const char* e : ends) {
          if (e != *ends.begin()) msg += " or ";
          msg += std::string("'") + e + "'";
        }
        if (opener != nullptr) {
          fail_at(msg + " to close the block opened here", *opener);
        }
        fail(msg);
      }
      if (t.type == Tok::kText) {
        auto s = node<Stmt>(t);
        s->kind = StmtKind::kText;
        s->text = next().text;
        body.push_back(std::move(s));
      } else if (t.type == Tok::kVarBegin) {
        auto s = node<Stmt>(next());
        s->kind = StmtKind::kOutput;
        s->expr = parse_expression();
        expect(Tok::kVarEnd, "'}}'");
        body.push_back(std::move(s));
      } else if (t.type == Tok::kBlockBegin) {
        const Token& name = peek(1);
        if (name.type == Tok::kName) {
          for (const char* e : ends) {
            if (name.text == e) {
              next();
              next();
              *found = e;
              return body;
            }
          }
        }
        body.push_back(parse_statement());
      } else {
        fail("unexpected " + describe(t));
      }
    }
  }

  StmtPtr parse_statement() {
    const Token& open = next();  // {%
    const Token& kw = peek();
    if (kw.type != Tok::kName) fail("expected a tag name, got " + describe(kw));
    std::string name = next().text;
    auto s = node<Stmt>(open);
    std::string found;
    if (name == "if") {
      s->kind = StmtKind::kIf;
      ExprPtr cond = parse_expression();
      expect(Tok::kBlockEnd, "'%}'");
      Body body = parse_until({"elif", "else", "endif"}, &found, &open);
      s->branches.emplace_back(std::move(cond), std::move(body));
      while (found == "elif") {
        cond = parse_expression();
        expect(Tok::kBlockEnd, "'%}'");
        body = parse_until({"elif", "else", "endif"}, &found, &open);
        s->branches.emplace_back(std::move(cond), std::move(body));
      }
      if (found == "else") {
        expect(Tok::kBlockEnd, "'%}'");
        s->else_body = parse_until({"endif"}, &found, &open);
      }
    } else if (name == "for") {
      s->kind = StmtKind::kFor;
      s->targets.push_back(expect_name());
      while (accept_op(",")) s->targets.push_back(expect_name());
      if (!accept_name("in")) fail("expected 'in' in for loop, got " + describe(peek()));
      s->expr = parse_expression(false);
      if (is_op(",")) {
        auto tuple = expr_node(ExprKind::kTuple, peek());
        tuple->args.push_back(std::move(s->expr));
        while (accept_op(",")) tuple->args.push_back(parse_expression(false));
        s->expr = std::move(tuple);
      }
      if (accept_name("if")) s->cond = parse_expression(false);
      if (accept_name("recursive")) fail("recursive loops are not supported");
      expect(Tok::kBlockEnd, "'%}'");
      s->body = parse_until({"else", "endfor"}, &found, &open);
      if (found == "else") {
        expect(Tok::kBlockEnd, "'%}'");
        s->else_body = parse_until({"endfor"}, &found, &open);
      }
    } else if (name == "set") {
      s->targets.push_back(expect_name());
      if (accept_op(".")) {
        s->attr_target = true;
        s->targets.push_back(expect_name());
      } else {
        while (accept_op(",")) s->targets.push_back(expect_name());
      }
      if (accept_op("=")) {
        s->kind = StmtKind::kSet;
        s->expr = parse_expression();
        if (is_op(",")) {
          auto tuple = expr_node(ExprKind::kTuple, peek());
          tuple->args.push_back(std::move(s->expr));
          while (accept_op(",")) tuple->args.push_back(parse_expression());
          s->expr = std::move(tuple);
        }
      } else {
        if (s->attr_target || s->targets.size() != 1) fail("block set needs a single name");
        s->kind = StmtKind::kSetBlock;
        expect(Tok::kBlockEnd, "'%}'");
        s->body = parse_until({"endset"}, &found, &open);
      }
    } else if (name == "macro") {
      s->kind = StmtKind::kMacro;
      s->text = expect_name();
      expect_op("(");
      while (!is_op(")")) {
        std::string param = expect_name();
        ExprPtr def;
        if (accept_op("=")) def = parse_expression();
        s->params.emplace_back(param, std::move(def));
        if (!accept_op(",")) break;
      }
      expect_op(")");
      expect(Tok::kBlockEnd, "'%}'");
      s->body = parse_until({"endmacro"}, &found, &open);
    } else if (name == "call") {
      s->kind = StmtKind::kCallBlock;
      if (is_op("(")) fail("call blocks with parameters are not supported");
      s->expr = parse_expression();
      expect(Tok::kBlockEnd, "'%}'");
      s->body = parse_until({"endcall"}, &found, &open);
    } else if (name == "filter") {
      s->kind = StmtKind::kFilterBlock;
      s->expr = parse_filter_tail(nullptr, open);
      expect(Tok::kBlockEnd, "'%}'");
      s->body = parse_until({"endfilter"}, &found, &open);
    } else if (name == "generation") {
      s->kind = StmtKind::kScope;
      expect(Tok::kBlockEnd, "'%}'");
      s->body = parse_until({"endgeneration"}, &found, &open);
    } else if (name == "break" || name == "continue") {
      s->kind = name == "break" ? StmtKind::kBreak : StmtKind::kContinue;
    } else if (name == "do") {
      s->kind = StmtKind::kDo;
      s->expr = parse_expression();
    } else {
      fail_at("unknown or unexpected tag '" + name + "'", kw);
    }
    expect(Tok::kBlockEnd, "'%}'");
    return s;
  }

  // ---- expressions ----

  ExprPtr parse_expression(bool with_cond = true) {
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

  ExprPtr binary(ExprKind kind, const Token& at, std::string op, ExprPtr l, ExprPtr r) {
    auto e = expr_node(kind, at);
    e->name = std::move(op);
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return seal(std::move(e));
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
      const Token& at = next();
      e = binary(ExprKind::kOr, at, "or", std::move(e), parse_and());
    }
    return e;
  }
  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
      const Token& at = next();
      e = binary(ExprKind::kAnd, at, "and", std::move(e), parse_not());
    }
    return e;
  }
  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(this);
      auto e = expr_node(ExprKind::kUnary, next());
      e->name = "not";
      e->args.push_back(parse_not());
      return seal(std::move(e));
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
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
  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& at = next();
      e = binary(ExprKind::kBinary, at, at.text, std::move(e), parse_concat());
    }
    return e;
  }
  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (is_op("~")) {
      const Token& at = next();
      e = binary(ExprKind::kBinary, at, "~", std::move(e), parse_math2());
    }
    return e;
  }
  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& at = next();
      e = binary(ExprKind::kBinary, at, at.text, std::move(e), parse_pow());
    }
    return e;
  }
  ExprPtr parse_pow() {
    ExprPtr e = parse_unary();
    while (is_op("**")) {
      const Token& at = next();
      e = binary(ExprKind::kBinary, at, "**", std::move(e), parse_unary());
    }
    return e;
  }
  // As in Jinja, the operand of unary -/+ takes no filters: `-3|abs` is `(-3)|abs`.
  ExprPtr parse_unary(bool with_filter = true) {
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

  // Parses `| filter(args)` and `is [not] test args` chains; with a null input parses a
  // single filter application for {% filter %} blocks.
  ExprPtr parse_filter_tail(ExprPtr e, const Token& block_at) {
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

  bool starts_test_arg() const {
    const Token& t = peek();
    if (t.type == Tok::kName) {
      static const char* const kStop[] = {"else", "or", "and", "if", "is", "in", "not"};
      return std::none_of(std::begin(kStop), std::end(kStop),
                          [&](const char* s) { return t.text == s; });
    }
    return t.type == Tok::kString || t.type == Tok::kInt || t.type == Tok::kFloat ||
           is_op("[") || is_op("{");
  }

  void parse_call_args(Expr& call) {
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

  ExprPtr parse_primary() {
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
      default: break;
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

  ExprPtr parse_postfix(ExprPtr e) {
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

  ExprPtr parse_subscript(ExprPtr obj, const Token& at) {
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

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse(std::vector<Token> tokens) { return Parser(std::move(tokens)).run(); }

}  // namespace dkb::tokenizer::jinja
