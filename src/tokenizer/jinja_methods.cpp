// Built-in tests (`is ...`) and Python methods of str, dict and list.
#include <optional>
#include <set>

#include "jinja_eval.h"
#include "jinja_string_util.h"

namespace dkb::tokenizer::jinja {
namespace {

const std::set<std::string>& test_names() {
  static const std::set<std::string> kNames = {
      "defined", "undefined", "none",        "string", "number", "integer", "float",
      "mapping", "iterable",  "sequence",    "true",   "false",  "boolean", "even",
      "odd",     "eq",        "equalto",     "==",     "ne",     "!=",      "lt",
      "<",       "le",        "<=",          "gt",     ">",      "ge",      ">=",
      "in",      "callable",  "divisibleby", "sameas", "lower",  "upper"};
  return kNames;
}

std::string str_arg(const Args& args, size_t i, const std::string& name) {
  Value v = args.get(i, name);
  if (!v.is_string()) throw Error(name + " must be a string, got " + type_name(v));
  return v.str();
}

bool prefix_match(const Value& what, const std::string& s, bool suffix) {
  auto one = [&](const Value& p) {
    if (!p.is_string()) throw Error("startswith/endswith argument must be str or tuple of str");
    const std::string& x = p.str();
    return suffix ? s.ends_with(x) : s.starts_with(x);
  };
  if (what.is_list()) {
    for (const auto& p : *what.list()) {
      if (one(p)) return true;
    }
    return false;
  }
  return one(what);
}

// Python str.format with {} / {0} / {name} fields (no format specs beyond plain fields).
std::string py_format(const std::string& fmt, const Args& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t close = fmt.find('}', i);
      if (close == std::string::npos) throw Error("single '{' encountered in format string");
      std::string field = fmt.substr(i + 1, close - i - 1);
      field = field.substr(0, field.find(':'));
      Value v;
      if (field.empty()) {
        v = args.get(auto_index++, "\x01");
      } else if (field.find_first_not_of("0123456789") == std::string::npos) {
        v = args.get(std::stoul(field.substr(0, 6)), "\x01");
      } else {
        v = args.get(static_cast<size_t>(-1), field);
      }
      if (v.is_undefined()) throw Error("format(): missing argument for '{" + field + "}'");
      out += to_str(v);
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

bool string_method(Evaluator& ev, const std::string& s, const std::string& name, Args& args,
                   Value* result) {
  auto opt_str = [&](size_t i, const char* key) -> std::optional<std::string> {
    Value v = args.get(i, key);
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    return to_str(v);
  };
  if (name == "startswith" || name == "endswith") {
    *result = prefix_match(args.get(0, "prefix"), s, name == "endswith");
  } else if (name == "strip" || name == "lstrip" || name == "rstrip") {
    auto chars = opt_str(0, "chars");
    *result = py_strip(s, chars ? &*chars : nullptr, name != "rstrip", name != "lstrip");
  } else if (name == "split" || name == "rsplit") {
    auto sep = opt_str(0, "sep");
    long maxsplit = static_cast<long>(args.get(1, "maxsplit", -1).as_int());
    List out;
    for (auto& part : py_split(s, sep ? &*sep : nullptr, maxsplit, name == "rsplit"))
      out.emplace_back(std::move(part));
    *result = Value::make_list(std::move(out));
  } else if (name == "splitlines") {
    List out;
    size_t pos = 0;
    while (pos < s.size()) {
      size_t nl = s.find('\n', pos);
      std::string line = s.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      out.emplace_back(line);
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    *result = Value::make_list(std::move(out));
  } else if (name == "replace") {
    Value count = args.get(2, "count", -1);
    *result = py_replace(s, str_arg(args, 0, "old"), str_arg(args, 1, "new"),
                         static_cast<long>(count.as_int()), ev.limits().max_output_bytes);
  } else if (name == "lower") {
    *result = str_lower(s);
  } else if (name == "upper") {
    *result = str_upper(s);
  } else if (name == "title") {
    *result = py_title(s);
  } else if (name == "capitalize") {
    *result = py_capitalize(s);
  } else if (name == "find" || name == "rfind" || name == "index") {
    std::string sub = str_arg(args, 0, "sub");
    size_t f = name == "rfind" ? s.rfind(sub) : s.find(sub);
    if (f == std::string::npos && name == "index") throw Error("substring not found");
    *result = f == std::string::npos ? int64_t{-1} : static_cast<int64_t>(cp_index(s, f));
  } else if (name == "count") {
    *result = static_cast<int64_t>(count_occurrences(s, str_arg(args, 0, "sub")));
  } else if (name == "format") {
    *result = py_format(s, args);
  } else if (name == "join") {
    std::string out;
    bool first = true;
    for (const auto& item : iterate(args.get(0, "iterable"))) {
      if (!first) out += s;
      first = false;
      out += to_str(item);
      if (out.size() > ev.limits().max_output_bytes) throw Error("join() result too large");
    }
    *result = out;
  } else if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" ||
             name == "islower" || name == "isupper") {
    bool ok = !s.empty();
    bool cased = false;
    for (unsigned char c : s) {
      bool digit = c >= '0' && c <= '9';
      bool lower = c >= 'a' && c <= 'z';
      bool upper = c >= 'A' && c <= 'Z';
      bool space = c == ' ' || (c >= '\t' && c <= '\r');
      cased = cased || lower || upper;
      if (name == "isdigit") ok = ok && digit;
      if (name == "isalpha") ok = ok && (lower || upper);
      if (name == "isalnum") ok = ok && (lower || upper || digit);
      if (name == "isspace") ok = ok && space;
      if (name == "islower") ok = ok && !upper;
      if (name == "isupper") ok = ok && !lower;
    }
    if (name == "islower" || name == "isupper") ok = ok && cased;
    *result = ok;
  } else {
    return false;
  }
  return true;
}

bool dict_method(const Value& obj, const std::string& name, Args& args, Value* result) {
  Dict& d = *obj.dict();
  if (d.is_namespace) return false;
  if (name == "get") {
    Value key = args.get(0, "key");
    const Value* v = key.is_string() ? d.find(key.str()) : nullptr;
    *result = v ? *v : args.get(1, "default", None{});
  } else if (name == "items" || name == "keys" || name == "values") {
    List out;
    for (const auto& [k, v] : d.items) {
      if (name == "items") out.push_back(Value::make_list({Value(k), v}));
      if (name == "keys") out.emplace_back(k);
      if (name == "values") out.push_back(v);
    }
    *result = Value::make_list(std::move(out));
  } else if (name == "copy") {
    Value c = Value::make_dict();
    c.dict()->items = d.items;
    *result = c;
  } else {
    return false;
  }
  return true;
}

bool list_method(Evaluator& ev, const Value& obj, const std::string& name, Args& args,
                 Value* result) {
  List& l = *obj.list();
  if (name == "append") {
    ev.check_list_size(l.size() + 1);
    l.push_back(args.get(0, "object"));
    *result = None{};
  } else if (name == "extend") {
    List more = iterate(args.get(0, "iterable"));
    ev.check_list_size(l.size() + more.size());
    l.insert(l.end(), more.begin(), more.end());
    *result = None{};
  } else if (name == "pop") {
    if (l.empty()) throw Error("pop from empty list");
    int64_t i = args.get(0, "index", -1).as_int();
    int64_t n = static_cast<int64_t>(l.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) throw Error("pop index out of range");
    *result = l[static_cast<size_t>(i)];
    l.erase(l.begin() + i);
  } else if (name == "insert") {
    ev.check_list_size(l.size() + 1);
    int64_t n = static_cast<int64_t>(l.size());
    int64_t i = args.get(0, "index").as_int();
    if (i < 0) i = std::max<int64_t>(0, i + n);
    i = std::min(i, n);
    l.insert(l.begin() + i, args.get(1, "object"));
    *result = None{};
  } else if (name == "index" || name == "count") {
    Value x = args.get(0, "value");
    int64_t count = 0;
    for (size_t i = 0; i < l.size(); ++i) {
      if (!equals(l[i], x)) continue;
      if (name == "index") {
        *result = static_cast<int64_t>(i);
        return true;
      }
      ++count;
    }
    if (name == "index") throw Error("value is not in list");
    *result = count;
  } else {
    return false;
  }
  return true;
}

}  // namespace

bool is_known_test(const std::string& name) {
  return test_names().count(name) != 0;
}

bool apply_test(Evaluator& /*ev*/, const std::string& name, const Value& v, Args& args) {
  Value arg = args.get(0, "other");
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && std::get<bool>(v.v);
  if (name == "false") return v.is_bool() && !std::get<bool>(v.v);
  if (name == "mapping") return v.is_dict() && !v.dict()->is_namespace;
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string();
  if (name == "callable") return v.is_callable();
  if (name == "even" || name == "odd") {
    if (!v.is_number()) throw Error("'" + name + "' test needs a number");
    int64_t i = v.as_int();
    return (i % 2 == 0) == (name == "even");
  }
  if (name == "divisibleby") {
    int64_t d = arg.as_int();
    if (d == 0) throw Error("division by zero");
    return v.as_int() % d == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return equals(v, arg);
  if (name == "ne" || name == "!=") return !equals(v, arg);
  if (name == "sameas") {
    if (v.v.index() != arg.v.index()) return false;
    if (v.is_list()) return v.list() == arg.list();
    if (v.is_dict()) return v.dict() == arg.dict();
    return equals(v, arg);
  }
  if (name == "lt" || name == "<") return compare(v, arg) < 0;
  if (name == "le" || name == "<=") return compare(v, arg) <= 0;
  if (name == "gt" || name == ">") return compare(v, arg) > 0;
  if (name == "ge" || name == ">=") return compare(v, arg) >= 0;
  if (name == "in") {
    for (const auto& item : iterate(arg)) {
      if (equals(item, v)) return true;
    }
    return arg.is_string() && v.is_string() && arg.str().find(v.str()) != std::string::npos;
  }
  if (name == "lower") return v.is_string() && str_lower(v.str()) == v.str();
  if (name == "upper") return v.is_string() && str_upper(v.str()) == v.str();
  throw Error("no test named '" + name + "'");
}

bool call_method(Evaluator& ev, const Value& obj, const std::string& name, Args& args,
                 Value* result) {
  if (obj.is_string()) return string_method(ev, obj.str(), name, args, result);
  if (obj.is_dict()) return dict_method(obj, name, args, result);
  if (obj.is_list()) return list_method(ev, obj, name, args, result);
  return false;
}

}  // namespace dkb::tokenizer::jinja
