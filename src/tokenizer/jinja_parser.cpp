// Statement grammar of the Jinja parser ({% if %}, {% for %}, {% set %}, {% macro %} ...).
#include "jinja_parser.h"

#include <initializer_list>

#include "jinja_parser_impl.h"

namespace dkb::tokenizer::jinja {
namespace {

class Parser : public ExprParser {
 public:
  using ExprParser::ExprParser;

  Body run() {
    std::string found;
    Body body = parse_until({}, &found);
    return body;
  }

 private:
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
};

}  // namespace

Body parse(std::vector<Token> tokens) {
  return Parser(std::move(tokens)).run();
}

}  // namespace dkb::tokenizer::jinja
