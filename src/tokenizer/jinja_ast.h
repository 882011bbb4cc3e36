// AST of a parsed Jinja template. Nodes are immutable after parsing and owned by their
// parent through unique_ptr; a parsed template may be evaluated from several threads.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jinja_value.h"

namespace dkb::tokenizer::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind {
  kLiteral,  // literal
  kName,     // name
  kList,     // args = items
  kTuple,    // args = items
  kDict,     // args = key0, value0, key1, value1, ...
  kGetAttr,  // args[0] . name
  kGetItem,  // args[0] [ args[1] ]
  kSlice,    // args[0] [ args[1] : args[2] : args[3] ] (null = omitted)
  kCall,     // args[0] ( args[1..], kwargs )
  kFilter,   // args[0] | name ( args[1..], kwargs )
  kTest,     // args[0] is [not] name ( args[1..] )
  kUnary,    // name = "-", "+", "not"; args[0]
  kBinary,   // name = operator; args[0], args[1]
  kAnd,
  kOr,
  kCond,  // args[0] if args[1] else args[2] (null = undefined)
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  int line = 0;
  int col = 0;
  Value literal;
  std::string name;
  bool negated = false;  // `is not`, `not in`
  int depth = 1;         // height of this subtree (bounded by the parser)
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

enum class StmtKind {
  kText,         // text
  kOutput,       // {{ expr }}
  kIf,           // branches (cond, body), else_body
  kFor,          // targets in expr [if cond]: body, else_body
  kSet,          // targets = expr; or attr_target: targets[0].targets[1] = expr
  kSetBlock,     // {% set targets[0] %} body {% endset %}
  kMacro,        // name(params) body
  kCallBlock,    // {% call expr %} body {% endcall %}: body becomes caller()
  kFilterBlock,  // {% filter expr %} body: expr is a kFilter whose input is null
  kBreak,
  kContinue,
  kDo,     // {% do expr %}
  kScope,  // body rendered as is ({% generation %})
};

struct Stmt {
  StmtKind kind = StmtKind::kText;
  int line = 0;
  int col = 0;
  std::string text;
  std::vector<std::string> targets;
  bool attr_target = false;
  ExprPtr expr;
  ExprPtr cond;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro parameters and defaults
};

}  // namespace dkb::tokenizer::jinja
