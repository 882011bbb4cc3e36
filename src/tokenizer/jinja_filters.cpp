// Built-in filters (Jinja2 semantics; tojson follows Hugging Face's ensure_ascii=False).
#include <algorithm>
#include <cmath>
#include <set>

#include "jinja_eval.h"
#include "jinja_string_util.h"

namespace dkb::tokenizer::jinja {
namespace {

const std::set<std::string>& filter_names() {
  static const std::set<std::string> kNames = {
      "abs",    "attr",       "capitalize", "count",     "d",       "default", "dictsort",
      "e",      "escape",     "first",      "float",     "indent",  "int",     "items",
      "join",   "last",       "length",     "list",      "lower",   "map",     "max",
      "min",    "reject",     "rejectattr", "replace",   "reverse", "round",   "safe",
      "select", "selectattr", "sort",       "string",    "sum",     "title",   "tojson",
      "trim",   "unique",     "upper",      "wordcount", "center",  "batch",   "format"};
  return kNames;
}

// Attribute lookup used by map/selectattr/sort/...: dotted paths, integer segments index.
Value get_attribute(const Value& v, const std::string& path) {
  Value cur = v;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (cur.is_dict()) {
      const Value* f = cur.dict()->find(part);
      cur = f ? *f : Value(Undefined{part});
    } else if (cur.is_list() && !part.empty() &&
               std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      size_t i = std::stoul(part);
      cur = i < cur.list()->size() ? (*cur.list())[i] : Value(Undefined{part});
    } else {
      cur = Undefined{part};
    }
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

Args tail_args(const Args& args, size_t from) {
  Args out;
  for (size_t i = from; i < args.pos.size(); ++i) out.pos.push_back(args.pos[i]);
  out.kw = args.kw;
  return out;
}

Value select_like(Evaluator& ev, const Value& input, const Args& args, bool by_attr, bool keep) {
  List out;
  size_t next = 0;
  std::string attr;
  if (by_attr) attr = to_str(args.get(next++, "attribute"));
  std::string test = args.pos.size() > next ? to_str(args.pos[next]) : "";
  Args test_args = tail_args(args, next + 1);
  test_args.kw.clear();
  for (const auto& item : iterate(input)) {
    Value v = by_attr ? get_attribute(item, attr) : item;
    bool ok = test.empty() ? truthy(v) : apply_test(ev, test, v, test_args);
    if (ok == keep) out.push_back(item);
  }
  return Value::make_list(std::move(out));
}

std::string sort_key_str(const Value& v, bool case_sensitive) {
  return case_sensitive || !v.is_string() ? std::string() : str_lower(v.str());
}

int sort_compare(const Value& a, const Value& b, bool case_sensitive) {
  if (!case_sensitive && a.is_string() && b.is_string()) {
    return compare(Value(sort_key_str(a, false)), Value(sort_key_str(b, false)));
  }
  return compare(a, b);
}

Value to_int(const Value& v, const Value& def) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  if (v.is_float()) {
    double d = v.as_double();
    if (!std::isfinite(d)) return def;
    return v.as_int();
  }
  if (v.is_string()) {
    std::string s = py_strip(v.str(), nullptr, true, true);
    try {
      size_t used = 0;
      long long i = std::stoll(s, &used, 10);
      if (used == s.size()) return static_cast<int64_t>(i);
      double d = std::stod(s, &used);
      if (used == s.size() && std::isfinite(d)) return Value(d).as_int();
    } catch (const std::exception&) {
    }
  }
  return def;
}

Value to_float(const Value& v, const Value& def) {
  if (v.is_number()) return v.as_double();
  if (v.is_string()) {
    try {
      size_t used = 0;
      std::string s = py_strip(v.str(), nullptr, true, true);
      double d = std::stod(s, &used);
      if (used == s.size()) return d;
    } catch (const std::exception&) {
    }
  }
  return def;
}

Value minmax(const Value& input, const Args& args, bool want_max) {
  List items = iterate(input);
  if (items.empty()) return Undefined{"min/max of empty sequence"};
  bool cs = truthy(args.get(0, "case_sensitive", false));
  Value attr = args.get(1, "attribute");
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    Value a = attr.is_undefined() ? items[i] : get_attribute(items[i], to_str(attr));
    Value b = attr.is_undefined() ? items[best] : get_attribute(items[best], to_str(attr));
    int c = sort_compare(a, b, cs);
    if (want_max ? c > 0 : c < 0) best = i;
  }
  return items[best];
}

}  // namespace

bool is_known_filter(const std::string& name) {
  return filter_names().count(name) != 0;
}

Value apply_filter(Evaluator& ev, const std::string& name, Value input, Args& args) {
  if (name == "default" || name == "d") {
    bool boolean = truthy(args.get(1, "boolean", false));
    if (input.is_undefined() || (boolean && !truthy(input)))
      return args.get(0, "default_value", "");
    return input;
  }
  if (name == "length" || name == "count") {
    if (input.is_string()) return static_cast<int64_t>(utf8_length(input.str()));
    if (input.is_dict()) return static_cast<int64_t>(input.dict()->items.size());
    if (input.is_list()) return static_cast<int64_t>(input.list()->size());
    if (input.is_undefined()) return 0;
    throw Error("object of type '" + type_name(input) + "' has no len()");
  }
  if (name == "safe") return input;
  if (name == "string") return to_str(input);
  if (name == "tojson") {
    // transformers: tojson(x, ensure_ascii=False, indent=None, separators=None,
    // sort_keys=False) -> json.dumps(...).
    JsonOptions opt;
    opt.ensure_ascii = truthy(args.get(0, "ensure_ascii", false));
    Value indent = args.get(1, "indent", None{});
    if (indent.is_string()) {
      opt.indent = indent.str();
    } else if (!indent.is_none() && !indent.is_undefined()) {
      opt.indent =
          std::string(static_cast<size_t>(std::clamp<int64_t>(indent.as_int(), 0, 64)), ' ');
    }
    Value separators = args.get(2, "separators", None{});
    if (separators.is_list() && separators.list()->size() == 2) {
      opt.item_separator = to_str((*separators.list())[0]);
      opt.key_separator = to_str((*separators.list())[1]);
    }
    opt.sort_keys = truthy(args.get(3, "sort_keys", false));
    std::string out = to_json(input, opt);
    ev.charge(out.size());
    return out;
  }
  if (name == "list") return Value::make_list(iterate(input));
  if (name == "items" || name == "dictsort") {
    if (input.is_undefined()) return Value::make_list();
    if (!input.is_dict()) throw Error("can only get items of a mapping, got " + type_name(input));
    List out;
    for (const auto& [k, v] : input.dict()->items) out.push_back(Value::make_list({Value(k), v}));
    if (name == "dictsort") {
      bool cs = truthy(args.get(0, "case_sensitive", false));
      bool by_value = to_str(args.get(1, "by", "key")) == "value";
      bool rev = truthy(args.get(2, "reverse", false));
      std::stable_sort(out.begin(), out.end(), [&](const Value& a, const Value& b) {
        size_t k = by_value ? 1 : 0;
        int c = sort_compare((*a.list())[k], (*b.list())[k], cs);
        return rev ? c > 0 : c < 0;
      });
    }
    return Value::make_list(std::move(out));
  }
  if (name == "first" || name == "last") {
    List items = iterate(input);
    if (items.empty()) return Undefined{name};
    return name == "first" ? items.front() : items.back();
  }
  if (name == "join") {
    std::string sep = to_str(args.get(0, "d", ""));
    Value attr = args.get(1, "attribute");
    std::string out;
    bool first = true;
    for (const auto& item : iterate(input)) {
      if (!first) out += sep;
      first = false;
      out += to_str(attr.is_undefined() ? item : get_attribute(item, to_str(attr)));
      if (out.size() > ev.limits().max_output_bytes) throw Error("join() result too large");
    }
    ev.charge(out.size());
    return out;
  }
  if (name == "map") {
    List out;
    Value attr = args.get(99, "attribute");
    if (!attr.is_undefined()) {
      Value def = args.get(99, "default");
      for (const auto& item : iterate(input)) {
        Value v = get_attribute(item, to_str(attr));
        out.push_back(v.is_undefined() && !def.is_undefined() ? def : v);
      }
    } else {
      if (args.pos.empty()) throw Error("map() needs a filter name or attribute=");
      std::string filter = to_str(args.pos[0]);
      if (!is_known_filter(filter)) throw Error("no filter named '" + filter + "'");
      for (const auto& item : iterate(input)) {
        Args sub = tail_args(args, 1);
        out.push_back(apply_filter(ev, filter, item, sub));
      }
    }
    return Value::make_list(std::move(out));
  }
  if (name == "select") return select_like(ev, input, args, false, true);
  if (name == "reject") return select_like(ev, input, args, false, false);
  if (name == "selectattr") return select_like(ev, input, args, true, true);
  if (name == "rejectattr") return select_like(ev, input, args, true, false);
  if (name == "unique") {
    bool cs = truthy(args.get(0, "case_sensitive", false));
    Value attr = args.get(1, "attribute");
    List out;
    List seen;
    for (const auto& item : iterate(input)) {
      Value key = attr.is_undefined() ? item : get_attribute(item, to_str(attr));
      if (!cs && key.is_string()) key = str_lower(key.str());
      bool dup =
          std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); });
      if (!dup) {
        seen.push_back(key);
        out.push_back(item);
      }
    }
    return Value::make_list(std::move(out));
  }
  if (name == "sort") {
    bool rev = truthy(args.get(0, "reverse", false));
    bool cs = truthy(args.get(1, "case_sensitive", false));
    Value attr = args.get(2, "attribute");
    List items = iterate(input);
    std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
      Value x = attr.is_undefined() ? a : get_attribute(a, to_str(attr));
      Value y = attr.is_undefined() ? b : get_attribute(b, to_str(attr));
      int c = sort_compare(x, y, cs);
      return rev ? c > 0 : c < 0;
    });
    return Value::make_list(std::move(items));
  }
  if (name == "reverse") {
    if (input.is_string()) {
      auto cps = utf8_chars(input.str());
      std::string out;
      for (auto it = cps.rbegin(); it != cps.rend(); ++it) out += *it;
      return out;
    }
    List items = iterate(input);
    std::reverse(items.begin(), items.end());
    return Value::make_list(std::move(items));
  }
  if (name == "sum") {
    Value attr = args.get(0, "attribute");
    Value total = args.get(1, "start", 0);
    for (const auto& item : iterate(input)) {
      Value v = attr.is_undefined() ? item : get_attribute(item, to_str(attr));
      if (total.is_float() || v.is_float()) {
        total = total.as_double() + v.as_double();
      } else {
        total = total.as_int() + v.as_int();
      }
    }
    return total;
  }
  if (name == "min" || name == "max") return minmax(input, args, name == "max");
  if (name == "attr") return get_attribute(input, to_str(args.get(0, "name")));
  if (name == "batch") {
    int64_t size = args.get(0, "linecount", 1).as_int();
    if (size <= 0) throw Error("batch size must be positive");
    List out;
    List cur;
    for (const auto& item : iterate(input)) {
      cur.push_back(item);
      if (static_cast<int64_t>(cur.size()) == size) {
        out.push_back(Value::make_list(std::move(cur)));
        cur.clear();
      }
    }
    if (!cur.empty()) out.push_back(Value::make_list(std::move(cur)));
    return Value::make_list(std::move(out));
  }
  if (name == "int") return to_int(input, args.get(0, "default", 0));
  if (name == "float") return to_float(input, args.get(0, "default", 0.0));
  if (name == "abs") {
    if (input.is_float()) return std::fabs(input.as_double());
    int64_t i = input.as_int();
    if (i == INT64_MIN) throw Error("integer overflow");
    return i < 0 ? -i : i;
  }
  if (name == "round") {
    int64_t precision = args.get(0, "precision", 0).as_int();
    std::string method = to_str(args.get(1, "method", "common"));
    double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(precision, -300, 300)));
    double x = input.as_double() * scale;
    double r = method == "ceil"    ? std::ceil(x)
               : method == "floor" ? std::floor(x)
                                   : std::nearbyint(x);
    return r / scale;
  }
  // The remaining filters work on the string form of their input (jinja_text_filters.cpp).
  return apply_text_filter(ev, name, to_str(input), args);
}

}  // namespace dkb::tokenizer::jinja
