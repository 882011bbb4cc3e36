// Statement execution, scopes, budgets and global functions of the evaluator.
#include "jinja_eval.h"

#include <ctime>
#include <memory>

namespace dkb::tokenizer::jinja {

void require_defined(const Value& v) {
  if (v.is_undefined()) {
    const std::string& name = std::get<Undefined>(v.v).name;
    throw Error(name.empty() ? "value is undefined" : "'" + name + "' is undefined");
  }
}

List iterate(const Value& v) {
  if (v.is_undefined()) return {};
  if (v.is_list()) return *v.list();
  if (v.is_dict()) {
    List keys;
    for (const auto& [k, val] : v.dict()->items) keys.emplace_back(k);
    return keys;
  }
  if (v.is_string()) {
    List chars;
    for (auto& c : utf8_chars(v.str())) chars.emplace_back(std::move(c));
    return chars;
  }
  throw Error("'" + type_name(v) + "' object is not iterable");
}

Evaluator::Evaluator(const RenderLimits& limits, Value globals)
    : limits_(limits), globals_(std::move(globals)) {
  install_builtins();
}

void Evaluator::tick() {
  if (++iterations_ > limits_.max_iterations) {
    throw Error("template exceeded " + std::to_string(limits_.max_iterations) + " loop iterations");
  }
}

void Evaluator::charge(size_t bytes) {
  if (bytes > limits_.max_output_bytes) {
    throw Error("string exceeds " + std::to_string(limits_.max_output_bytes) + " bytes");
  }
  string_work_ += bytes;
  if (string_work_ > limits_.max_string_work) throw Error("template exceeded its string budget");
}

void Evaluator::check_list_size(size_t n) const {
  if (n > limits_.max_list_size) {
    throw Error("list exceeds " + std::to_string(limits_.max_list_size) + " items");
  }
}

std::string Evaluator::render(const Body& body) {
  scopes_.assign(1, Scope{});
  std::string out;
  exec(body, out);
  return out;
}

void Evaluator::emit(std::string& out, const std::string& text) {
  charge(text.size());
  if (out.size() + text.size() > limits_.max_output_bytes) {
    throw Error("output exceeds " + std::to_string(limits_.max_output_bytes) + " bytes");
  }
  out += text;
}

Value Evaluator::lookup(const std::string& name) const {
  for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
    auto found = it->find(name);
    if (found != it->end()) return found->second;
  }
  if (globals_.is_dict()) {
    if (const Value* v = globals_.dict()->find(name)) return *v;
  }
  auto b = builtins_.find(name);
  if (b != builtins_.end()) return b->second;
  return Undefined{name};
}

void Evaluator::assign(const std::string& name, Value value) {
  scopes_.back()[name] = std::move(value);
}

Evaluator::Flow Evaluator::exec(const Body& body, std::string& out) {
  for (const auto& s : body) {
    Flow f = exec_stmt(*s, out);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Evaluator::Flow Evaluator::exec_stmt(const Stmt& s, std::string& out) {
  try {
    switch (s.kind) {
      case StmtKind::kText:
        emit(out, s.text);
        return Flow::kNormal;
      case StmtKind::kOutput:
        emit(out, to_str(eval(*s.expr)));
        return Flow::kNormal;
      case StmtKind::kIf:
        for (const auto& [cond, body] : s.branches) {
          if (truthy(eval(*cond))) return exec(body, out);
        }
        return exec(s.else_body, out);
      case StmtKind::kFor:
        return exec_for(s, out);
      case StmtKind::kSet:
        exec_set(s, eval(*s.expr));
        return Flow::kNormal;
      case StmtKind::kSetBlock: {
        std::string captured;
        exec(s.body, captured);
        exec_set(s, Value(std::move(captured)));
        return Flow::kNormal;
      }
      case StmtKind::kMacro:
        assign(s.text, make_macro(s));
        return Flow::kNormal;
      case StmtKind::kCallBlock: {
        scopes_.emplace_back();
        const Body* body = &s.body;
        assign("caller", Value::make_function([this, body](Args&) -> Value {
                 std::string text;
                 exec(*body, text);
                 return text;
               }));
        Value result = eval(*s.expr);
        scopes_.pop_back();
        emit(out, to_str(result));
        return Flow::kNormal;
      }
      case StmtKind::kFilterBlock: {
        std::string captured;
        exec(s.body, captured);
        Args args;
        eval_args(*s.expr, 1, args);
        emit(out, to_str(apply_filter(*this, s.expr->name, Value(std::move(captured)), args)));
        return Flow::kNormal;
      }
      case StmtKind::kBreak:
        return Flow::kBreak;
      case StmtKind::kContinue:
        return Flow::kContinue;
      case StmtKind::kDo:
        eval(*s.expr);
        return Flow::kNormal;
      case StmtKind::kScope:
        return exec(s.body, out);
    }
  } catch (const Error& e) {
    if (e.line() != 0) throw;
    Error located(e.what(), s.line, s.col);
    located.raised = e.raised;
    throw located;
  }
  return Flow::kNormal;
}

Evaluator::Flow Evaluator::exec_for(const Stmt& s, std::string& out) {
  List items = iterate(eval(*s.expr));
  scopes_.emplace_back();
  auto bind = [&](const Value& item) {
    if (s.targets.size() == 1) {
      assign(s.targets[0], item);
      return;
    }
    List parts = iterate(item);
    if (parts.size() != s.targets.size()) {
      throw Error("cannot unpack " + std::to_string(parts.size()) + " values into " +
                  std::to_string(s.targets.size()) + " loop variables");
    }
    for (size_t i = 0; i < parts.size(); ++i) assign(s.targets[i], parts[i]);
  };
  if (s.cond) {
    List kept;
    for (const auto& item : items) {
      tick();
      bind(item);
      if (truthy(eval(*s.cond))) kept.push_back(item);
    }
    items = std::move(kept);
  }
  const int64_t n = static_cast<int64_t>(items.size());
  Value loop = Value::make_dict();
  auto index = std::make_shared<int64_t>(0);
  for (const char* key :
       {"index", "index0", "revindex", "revindex0", "first", "last", "previtem", "nextitem"}) {
    loop.dict()->items.emplace_back(key, None{});
  }
  loop.dict()->items.emplace_back("length", n);
  loop.dict()->items.emplace_back("depth", 1);
  loop.dict()->items.emplace_back("depth0", 0);
  loop.dict()->items.emplace_back("cycle", Value::make_function([index](Args& args) -> Value {
                                    if (args.pos.empty())
                                      throw Error("loop.cycle() needs at least one argument");
                                    return args.pos[static_cast<size_t>(*index) % args.pos.size()];
                                  }));
  for (int64_t i = 0; i < n; ++i) {
    tick();
    // Assignments in a loop body do not survive into the next iteration (as in Jinja).
    scopes_.back().clear();
    const Value& item = items[static_cast<size_t>(i)];
    bind(item);
    // One loop object updated in place, like Jinja's LoopContext.
    auto& slots = loop.dict()->items;
    slots[0].second = i + 1;
    slots[1].second = i;
    slots[2].second = n - i;
    slots[3].second = n - i - 1;
    slots[4].second = i == 0;
    slots[5].second = i == n - 1;
    slots[6].second = i > 0 ? items[static_cast<size_t>(i - 1)] : Value(Undefined{"previtem"});
    slots[7].second = i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value(Undefined{"nextitem"});
    *index = i;
    assign("loop", loop);
    if (exec(s.body, out) == Flow::kBreak) break;
  }
  scopes_.pop_back();
  if (n == 0) return exec(s.else_body, out);
  return Flow::kNormal;
}

void Evaluator::exec_set(const Stmt& s, Value value) {
  if (s.attr_target) {
    Value target = lookup(s.targets[0]);
    if (!target.is_dict() || !target.dict()->is_namespace) {
      throw Error("cannot assign attribute on non-namespace object '" + s.targets[0] + "'");
    }
    target.dict()->set(s.targets[1], std::move(value));
    return;
  }
  if (s.targets.size() == 1) {
    assign(s.targets[0], std::move(value));
    return;
  }
  List parts = iterate(value);
  if (parts.size() != s.targets.size()) throw Error("cannot unpack values in set");
  for (size_t i = 0; i < parts.size(); ++i) assign(s.targets[i], parts[i]);
}

Value Evaluator::make_macro(const Stmt& s) {
  const Stmt* m = &s;
  return Value::make_function([this, m](Args& args) -> Value {
    if (++call_depth_ > limits_.max_call_depth) {
      --call_depth_;
      throw Error("macro '" + m->text + "' exceeded the call depth limit");
    }
    tick();
    Scope frame;
    Value extra = Value::make_dict();
    for (size_t i = 0; i < m->params.size(); ++i) {
      const auto& [pname, def] = m->params[i];
      Value v = args.get(i, pname);
      if (v.is_undefined() && def) v = eval(*def);
      frame[pname] = v;
    }
    for (const auto& [k, v] : args.kw) {
      bool known = false;
      for (const auto& p : m->params) known = known || p.first == k;
      if (k == "caller") {
        frame["caller"] = v;
      } else if (!known) {
        extra.dict()->set(k, v);
      }
    }
    List varargs;
    for (size_t i = m->params.size(); i < args.pos.size(); ++i) varargs.push_back(args.pos[i]);
    frame["varargs"] = Value::make_list(std::move(varargs));
    frame["kwargs"] = extra;
    if (frame.find("caller") == frame.end()) {
      Value caller = lookup("caller");
      if (!caller.is_undefined()) frame["caller"] = caller;
    }
    scopes_.push_back(std::move(frame));
    std::string text;
    try {
      exec(m->body, text);
    } catch (...) {
      scopes_.pop_back();
      --call_depth_;
      throw;
    }
    scopes_.pop_back();
    --call_depth_;
    return text;
  });
}

Value Evaluator::call(const Value& fn, Args& args) {
  require_defined(fn);
  if (!fn.is_callable()) throw Error("'" + type_name(fn) + "' object is not callable");
  return (*std::get<FunctionPtr>(fn.v))(args);
}

void Evaluator::install_builtins() {
  builtins_["range"] = Value::make_function([this](Args& args) -> Value {
    if (args.pos.empty() || args.pos.size() > 3) throw Error("range expected 1 to 3 arguments");
    int64_t start = 0;
    int64_t stop = 0;
    int64_t step = 1;
    if (args.pos.size() == 1) {
      stop = args.pos[0].as_int();
    } else {
      start = args.pos[0].as_int();
      stop = args.pos[1].as_int();
      if (args.pos.size() == 3) step = args.pos[2].as_int();
    }
    if (step == 0) throw Error("range() arg 3 must not be zero");
    List out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      check_list_size(out.size() + 1);
      out.emplace_back(i);
    }
    return Value::make_list(std::move(out));
  });
  builtins_["namespace"] = Value::make_function([](Args& args) -> Value {
    Value ns = Value::make_dict();
    ns.dict()->is_namespace = true;
    for (const auto& p : args.pos) {
      if (!p.is_dict()) throw Error("namespace() positional argument must be a mapping");
      for (const auto& [k, v] : p.dict()->items) ns.dict()->set(k, v);
    }
    for (const auto& [k, v] : args.kw) ns.dict()->set(k, v);
    return ns;
  });
  builtins_["dict"] = Value::make_function([](Args& args) -> Value {
    Value d = Value::make_dict();
    for (const auto& p : args.pos) {
      if (p.is_dict()) {
        for (const auto& [k, v] : p.dict()->items) d.dict()->set(k, v);
      }
    }
    for (const auto& [k, v] : args.kw) d.dict()->set(k, v);
    return d;
  });
  builtins_["raise_exception"] = Value::make_function([](Args& args) -> Value {
    Error e(to_str(args.get(0, "message", "raise_exception() called")));
    e.raised = true;
    throw e;
  });
  builtins_["strftime_now"] = Value::make_function([](Args& args) -> Value {
    std::string fmt = to_str(args.get(0, "format", "%Y-%m-%d"));
    std::time_t now = std::time(nullptr);
    std::tm tm_now{};
    localtime_r(&now, &tm_now);
    char buf[256];
    size_t n = std::strftime(buf, sizeof(buf), fmt.c_str(), &tm_now);
    return std::string(buf, n);
  });
}

}  // namespace dkb::tokenizer::jinja
