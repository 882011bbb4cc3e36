// Evaluator: renders a parsed template (jinja_ast.h) against a context of Values.
//
// One Evaluator per render() call; it owns the variable scopes and the resource budgets
// (output bytes, loop iterations, call depth, total string work) so a malicious template
// fails with an Error instead of exhausting memory or time. Not thread-safe; the AST it
// reads is shared and immutable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "jinja_ast.h"
#include "jinja_value.h"

namespace dkb::tokenizer::jinja {

struct RenderLimits {
  size_t max_output_bytes = 4u << 20;     // rendered text and any single string value
  int64_t max_iterations = 1'000'000;     // loop iterations + macro calls, all together
  size_t max_list_size = 1'000'000;       // range(), list repetition
  int max_call_depth = 64;                // nested macro calls
  uint64_t max_string_work = 1ull << 30;  // bytes copied by string operations, all together
};

class Evaluator {
 public:
  Evaluator(const RenderLimits& limits, Value globals);

  std::string render(const Body& body);

  Value eval(const Expr& e);
  // Calls a callable Value (macro, builtin, bound method).
  Value call(const Value& fn, Args& args);
  // Budget checks; throw Error when a limit is exceeded.
  void tick();
  void charge(size_t bytes);
  void check_list_size(size_t n) const;
  const RenderLimits& limits() const { return limits_; }

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  using Scope = std::unordered_map<std::string, Value>;

  Flow exec(const Body& body, std::string& out);
  Flow exec_stmt(const Stmt& s, std::string& out);
  Flow exec_for(const Stmt& s, std::string& out);
  void exec_set(const Stmt& s, Value value);
  Value make_macro(const Stmt& s);
  void emit(std::string& out, const std::string& text);

  Value lookup(const std::string& name) const;
  void assign(const std::string& name, Value value);
  Value eval_binary(const Expr& e);
  Value eval_call(const Expr& e);
  Value eval_getattr(const Expr& e);
  Value eval_getitem(const Value& obj, const Value& key);
  Value eval_slice(const Expr& e);
  void eval_args(const Expr& e, size_t first, Args& args);
  void install_builtins();

  RenderLimits limits_;
  Value globals_;
  Scope builtins_;
  std::vector<Scope> scopes_;
  int64_t iterations_ = 0;
  uint64_t string_work_ = 0;
  int call_depth_ = 0;
};

// Throws an "is undefined" Error when v is Undefined (operations other than printing,
// testing and iterating are errors on Jinja's default Undefined).
void require_defined(const Value& v);

// Sequence view used by for loops and filters: list items, dict keys, string characters;
// Undefined iterates as empty; None and other scalars are an Error.
List iterate(const Value& v);

// Filters, tests and methods (jinja_filters.cpp, jinja_text_filters.cpp, jinja_methods.cpp).
bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);
Value apply_filter(Evaluator& ev, const std::string& name, Value input, Args& args);
Value apply_text_filter(Evaluator& ev, const std::string& name, const std::string& s, Args& args);
bool apply_test(Evaluator& ev, const std::string& name, const Value& v, Args& args);
// Looks up a method (str.split, dict.items, list.append ...); false when none exists.
bool call_method(Evaluator& ev, const Value& obj, const std::string& name, Args& args,
                 Value* result);
// Python slicing on lists/strings; null optionals are omitted bounds.
Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step);

}  // namespace dkb::tokenizer::jinja
