// Expression evaluation: names, attribute/item access, slicing, calls and operators.
#include <algorithm>
#include <climits>
#include <cmath>

#include "jinja_eval.h"
#include "jinja_string_util.h"

namespace dkb::tokenizer::jinja {
namespace {

[[noreturn]] void bad_operands(const std::string& op, const Value& a, const Value& b) {
  throw Error("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" +
              type_name(b) + "'");
}

bool is_integral(const Value& v) {
  return v.is_int() || v.is_bool();
}

int64_t checked(bool overflow, int64_t r) {
  if (overflow) throw Error("integer overflow");
  return r;
}

bool contains(const Value& container, const Value& item) {
  if (container.is_undefined()) return false;
  if (container.is_string()) {
    if (!item.is_string()) {
      throw Error("'in <string>' requires string as left operand, not " + type_name(item));
    }
    return container.str().find(item.str()) != std::string::npos;
  }
  if (container.is_dict()) return item.is_string() && container.dict()->find(item.str());
  if (container.is_list()) {
    for (const auto& x : *container.list()) {
      if (equals(x, item)) return true;
    }
    return false;
  }
  throw Error("argument of type '" + type_name(container) + "' is not iterable");
}

}  // namespace

Value Evaluator::eval(const Expr& e) {
  try {
    switch (e.kind) {
      case ExprKind::kLiteral:
        return e.literal;
      case ExprKind::kName:
        return lookup(e.name);
      case ExprKind::kList:
      case ExprKind::kTuple: {
        List items;
        for (const auto& a : e.args) items.push_back(eval(*a));
        return Value::make_list(std::move(items));
      }
      case ExprKind::kDict: {
        Value d = Value::make_dict();
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          Value k = eval(*e.args[i]);
          d.dict()->set(to_str(k), eval(*e.args[i + 1]));
        }
        return d;
      }
      case ExprKind::kGetAttr:
        return eval_getattr(e);
      case ExprKind::kGetItem: {
        Value obj = eval(*e.args[0]);
        return eval_getitem(obj, eval(*e.args[1]));
      }
      case ExprKind::kSlice:
        return eval_slice(e);
      case ExprKind::kCall:
        return eval_call(e);
      case ExprKind::kFilter: {
        Value input = eval(*e.args[0]);
        Args args;
        eval_args(e, 1, args);
        return apply_filter(*this, e.name, std::move(input), args);
      }
      case ExprKind::kTest: {
        Value v = eval(*e.args[0]);
        Args args;
        eval_args(e, 1, args);
        return apply_test(*this, e.name, v, args) != e.negated;
      }
      case ExprKind::kUnary: {
        Value v = eval(*e.args[0]);
        if (e.name == "not") return !truthy(v);
        require_defined(v);
        if (!v.is_number())
          throw Error("bad operand type for unary " + e.name + ": '" + type_name(v) + "'");
        if (e.name == "+") return v.is_float() ? v : Value(v.as_int());
        if (v.is_float()) return -v.as_double();
        return checked(v.as_int() == INT64_MIN, -v.as_int());
      }
      case ExprKind::kBinary:
        return eval_binary(e);
      case ExprKind::kAnd: {
        Value l = eval(*e.args[0]);
        return truthy(l) ? eval(*e.args[1]) : l;
      }
      case ExprKind::kOr: {
        Value l = eval(*e.args[0]);
        return truthy(l) ? l : eval(*e.args[1]);
      }
      case ExprKind::kCond:
        if (truthy(eval(*e.args[1]))) return eval(*e.args[0]);
        return e.args[2] ? eval(*e.args[2]) : Value(Undefined{});
    }
  } catch (const Error& err) {
    if (err.line() != 0) throw;
    Error located(err.what(), e.line, e.col);
    located.raised = err.raised;
    throw located;
  }
  return Undefined{};
}

void Evaluator::eval_args(const Expr& e, size_t first, Args& args) {
  for (size_t i = first; i < e.args.size(); ++i) args.pos.push_back(eval(*e.args[i]));
  for (const auto& [k, v] : e.kwargs) args.kw.emplace_back(k, eval(*v));
}

Value Evaluator::eval_getattr(const Expr& e) {
  Value obj = eval(*e.args[0]);
  require_defined(obj);
  if (obj.is_dict()) {
    if (const Value* v = obj.dict()->find(e.name)) return *v;
  }
  return Undefined{e.name};
}

Value Evaluator::eval_getitem(const Value& obj, const Value& key) {
  require_defined(obj);
  if (obj.is_dict()) {
    if (key.is_string()) {
      if (const Value* v = obj.dict()->find(key.str())) return *v;
      return Undefined{key.str()};
    }
    return Undefined{to_str(key)};
  }
  if ((obj.is_list() || obj.is_string()) && is_integral(key)) {
    int64_t i = key.as_int();
    if (obj.is_list()) {
      int64_t n = static_cast<int64_t>(obj.list()->size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Undefined{"[" + to_str(key) + "]"};
      return (*obj.list())[static_cast<size_t>(i)];
    }
    auto chars = utf8_chars(obj.str());
    int64_t n = static_cast<int64_t>(chars.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Undefined{"[" + to_str(key) + "]"};
    return chars[static_cast<size_t>(i)];
  }
  return Undefined{to_str(key)};
}

Value Evaluator::eval_slice(const Expr& e) {
  Value obj = eval(*e.args[0]);
  Value parts[3];
  for (int i = 0; i < 3; ++i) {
    parts[i] = e.args[static_cast<size_t>(i) + 1] ? eval(*e.args[static_cast<size_t>(i) + 1])
                                                  : Value(None{});
  }
  require_defined(obj);
  return slice_value(obj, parts[0], parts[1], parts[2]);
}

Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  int64_t st = step.is_none() ? 1 : step.as_int();
  if (st == 0) throw Error("slice step cannot be zero");
  List items;
  std::vector<std::string> chars;
  int64_t n = 0;
  if (obj.is_list()) {
    n = static_cast<int64_t>(obj.list()->size());
  } else if (obj.is_string()) {
    chars = utf8_chars(obj.str());
    n = static_cast<int64_t>(chars.size());
  } else {
    throw Error("'" + type_name(obj) + "' object is not subscriptable");
  }
  auto norm = [&](const Value& v, int64_t def) -> int64_t {
    if (v.is_none()) return def;
    int64_t i = v.as_int();
    if (i < 0) i += n;
    if (st > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  int64_t lo = norm(start, st > 0 ? 0 : n - 1);
  int64_t hi = norm(stop, st > 0 ? n : -1);
  std::string s;
  for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) {
    if (obj.is_list()) {
      items.push_back((*obj.list())[static_cast<size_t>(i)]);
    } else {
      s += chars[static_cast<size_t>(i)];
    }
  }
  if (obj.is_list()) return Value::make_list(std::move(items));
  return s;
}

Value Evaluator::eval_call(const Expr& e) {
  const Expr& callee = *e.args[0];
  Args args;
  if (callee.kind == ExprKind::kGetAttr) {
    Value obj = eval(*callee.args[0]);
    require_defined(obj);
    eval_args(e, 1, args);
    Value result;
    if (call_method(*this, obj, callee.name, args, &result)) return result;
    if (obj.is_dict()) {
      if (const Value* fn = obj.dict()->find(callee.name)) return call(*fn, args);
    }
    throw Error("'" + type_name(obj) + "' object has no method '" + callee.name + "'");
  }
  Value fn = eval(callee);
  eval_args(e, 1, args);
  return call(fn, args);
}

Value Evaluator::eval_binary(const Expr& e) {
  const std::string& op = e.name;
  Value a = eval(*e.args[0]);
  Value b = eval(*e.args[1]);
  if (op == "==") return equals(a, b);
  if (op == "!=") return !equals(a, b);
  if (op == "in") return contains(b, a) != e.negated;
  if (op == "~") {
    std::string s = to_str(a);
    std::string t = to_str(b);
    charge(s.size() + t.size());
    return s + t;
  }
  if (op == "%" && a.is_string()) {
    std::string out = percent_format(a.str(), b.is_list() ? *b.list() : List{b});
    charge(out.size());
    return out;
  }
  require_defined(a);
  require_defined(b);
  if (op == "<") return compare(a, b) < 0;
  if (op == ">") return compare(a, b) > 0;
  if (op == "<=") return compare(a, b) <= 0;
  if (op == ">=") return compare(a, b) >= 0;
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      charge(a.str().size() + b.str().size());
      return a.str() + b.str();
    }
    if (a.is_list() && b.is_list()) {
      check_list_size(a.list()->size() + b.list()->size());
      List out = *a.list();
      out.insert(out.end(), b.list()->begin(), b.list()->end());
      return Value::make_list(std::move(out));
    }
  }
  if (op == "*") {
    const Value& seq = (a.is_string() || a.is_list()) ? a : b;
    const Value& count = (&seq == &a) ? b : a;
    if ((seq.is_string() || seq.is_list()) && is_integral(count)) {
      int64_t k = std::max<int64_t>(0, count.as_int());
      if (seq.is_string()) {
        size_t total = seq.str().size() * static_cast<size_t>(std::min<int64_t>(k, 1 << 30));
        if (!seq.str().empty() && static_cast<uint64_t>(k) > limits_.max_output_bytes) {
          total = limits_.max_output_bytes + 1;
        }
        charge(total);
        std::string out;
        for (int64_t i = 0; i < k && !seq.str().empty(); ++i) out += seq.str();
        return out;
      }
      if (!seq.list()->empty())
        check_list_size(seq.list()->size() * static_cast<size_t>(std::min<int64_t>(k, 1 << 30)));
      List out;
      for (int64_t i = 0; i < k && !seq.list()->empty(); ++i) {
        out.insert(out.end(), seq.list()->begin(), seq.list()->end());
      }
      return Value::make_list(std::move(out));
    }
  }
  if (!a.is_number() || !b.is_number()) bad_operands(op, a, b);
  bool ints = is_integral(a) && is_integral(b);
  if (op == "/") {
    if (b.as_double() == 0) throw Error("division by zero");
    return a.as_double() / b.as_double();
  }
  if (ints) {
    int64_t x = a.as_int();
    int64_t y = b.as_int();
    int64_t r = 0;
    bool overflow = false;
    if (op == "+") overflow = __builtin_add_overflow(x, y, &r);
    if (op == "-") overflow = __builtin_sub_overflow(x, y, &r);
    if (op == "*") overflow = __builtin_mul_overflow(x, y, &r);
    if (op == "+" || op == "-" || op == "*") return checked(overflow, r);
    if (op == "//" || op == "%") {
      if (y == 0) throw Error("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) throw Error("integer overflow");
      int64_t q = x / y;
      int64_t m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        --q;
        m += y;
      }
      return op == "//" ? q : m;
    }
    if (op == "**") {
      if (y < 0) return std::pow(static_cast<double>(x), static_cast<double>(y));
      if (x == 0 || x == 1) return y == 0 ? 1 : x;
      if (x == -1) return y % 2 == 0 ? 1 : -1;
      int64_t result = 1;
      for (int64_t i = 0; i < y; ++i) {
        if (__builtin_mul_overflow(result, x, &result)) throw Error("integer overflow");
      }
      return result;
    }
  }
  double x = a.as_double();
  double y = b.as_double();
  if (op == "+") return x + y;
  if (op == "-") return x - y;
  if (op == "*") return x * y;
  if (op == "//" || op == "%") {
    if (y == 0) throw Error("float division by zero");
    double q = std::floor(x / y);
    return op == "//" ? q : x - q * y;
  }
  if (op == "**") return std::pow(x, y);
  bad_operands(op, a, b);
}

}  // namespace dkb::tokenizer::jinja
