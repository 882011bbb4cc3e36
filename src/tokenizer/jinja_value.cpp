// Value semantics: truthiness, str/repr, JSON, equality and ordering as Python defines them.
#include "jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "base/utf8.h"

namespace dkb::tokenizer::jinja {

int64_t Value::as_int() const {
  if (is_int()) return std::get<int64_t>(v);
  if (is_bool()) return std::get<bool>(v) ? 1 : 0;
  if (is_float()) {
    double d = std::get<double>(v);
    if (!std::isfinite(d) || d > 9.2e18 || d < -9.2e18) throw Error("float out of integer range");
    return static_cast<int64_t>(d);
  }
  throw Error("expected a number, got " + type_name(*this));
}

double Value::as_double() const {
  if (is_float()) return std::get<double>(v);
  if (is_int()) return static_cast<double>(std::get<int64_t>(v));
  if (is_bool()) return std::get<bool>(v) ? 1.0 : 0.0;
  throw Error("expected a number, got " + type_name(*this));
}

namespace {
thread_local ContainerArena* t_arena = nullptr;
}  // namespace

ContainerArena::ContainerArena() : previous_(t_arena) { t_arena = this; }

ContainerArena::~ContainerArena() {
  t_arena = previous_;
  for (auto& l : lists_) l->clear();
  for (auto& d : dicts_) d->items.clear();
}

void ContainerArena::track(const ListPtr& l) {
  if (t_arena == nullptr) return;
  t_arena->lists_.push_back(l);
  t_arena->compact();
}

void ContainerArena::track(const DictPtr& d) {
  if (t_arena == nullptr) return;
  t_arena->dicts_.push_back(d);
  t_arena->compact();
}

void ContainerArena::compact() {
  if (lists_.size() + dicts_.size() < next_compaction_) return;
  // Dropping a container here destroys at most that one object: its children are still
  // held by the arena. Children freed this way go in a later compaction.
  std::erase_if(lists_, [](const ListPtr& l) { return l.use_count() == 1; });
  std::erase_if(dicts_, [](const DictPtr& d) { return d.use_count() == 1; });
  next_compaction_ = 2 * (lists_.size() + dicts_.size()) + 4096;
}

Value Value::make_list(List items) {
  auto l = std::make_shared<List>(std::move(items));
  ContainerArena::track(l);
  return Value(std::move(l));
}

Value Value::make_dict() {
  auto d = std::make_shared<Dict>();
  ContainerArena::track(d);
  return Value(std::move(d));
}
Value Value::make_function(Function f) {
  return Value(std::make_shared<const Function>(std::move(f)));
}

const Value* Dict::find(const std::string& key) const {
  for (const auto& [k, val] : items) {
    if (k == key) return &val;
  }
  return nullptr;
}

void Dict::set(const std::string& key, Value value) {
  for (auto& [k, val] : items) {
    if (k == key) {
      val = std::move(value);
      return;
    }
  }
  items.emplace_back(key, std::move(value));
}

Value Args::get(size_t i, const std::string& name, Value fallback) const {
  if (i < pos.size()) return pos[i];
  for (const auto& [k, val] : kw) {
    if (k == name) return val;
  }
  return fallback;
}

bool truthy(const Value& v) {
  if (v.is_undefined() || v.is_none()) return false;
  if (v.is_bool()) return std::get<bool>(v.v);
  if (v.is_int()) return std::get<int64_t>(v.v) != 0;
  if (v.is_float()) return std::get<double>(v.v) != 0.0;
  if (v.is_string()) return !v.str().empty();
  if (v.is_list()) return !v.list()->empty();
  if (v.is_dict()) return v.dict()->is_namespace || !v.dict()->items.empty();
  return true;
}

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  // sci: [-]D[.DDD]e[+-]XX
  size_t epos = sci.find('e');
  int exp = std::stoi(sci.substr(epos + 1));
  std::string mant = sci.substr(0, epos);
  bool neg = mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits += c;
  }
  std::string out;
  if (exp < -4 || exp >= 16) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += eb;
  } else if (exp < 0) {
    out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  } else {
    size_t int_len = static_cast<size_t>(exp) + 1;
    if (digits.size() <= int_len) {
      out = digits + std::string(int_len - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, int_len) + "." + digits.substr(int_len);
    }
  }
  return neg ? "-" + out : out;
}

namespace {

std::string py_quote(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char q = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == static_cast<unsigned char>(q) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof(b), "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += q;
  return out;
}

void repr_into(const Value& v, std::string& out, int depth) {
  if (depth > kMaxValueDepth) throw Error("value nested too deeply");
  if (v.is_string()) {
    out += py_quote(v.str());
  } else if (v.is_list()) {
    out += '[';
    bool first = true;
    for (const auto& item : *v.list()) {
      if (!first) out += ", ";
      first = false;
      repr_into(item, out, depth + 1);
    }
    out += ']';
  } else if (v.is_dict()) {
    if (v.dict()->is_namespace) out += "<Namespace ";
    out += '{';
    bool first = true;
    for (const auto& [k, item] : v.dict()->items) {
      if (!first) out += ", ";
      first = false;
      out += py_quote(k) + ": ";
      repr_into(item, out, depth + 1);
    }
    out += '}';
    if (v.dict()->is_namespace) out += '>';
  } else {
    out += to_str(v);
  }
}

void json_string(const std::string& s, std::string& out) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof(b), "\\u%04x", c);
          out += b;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void json_into(const Value& v, std::string& out, int indent, bool sort_keys, int depth) {
  if (depth > kMaxValueDepth) throw Error("value nested too deeply for tojson");
  auto newline = [&](int level) {
    out += '\n';
    out.append(static_cast<size_t>(indent) * static_cast<size_t>(level), ' ');
  };
  if (v.is_undefined() || v.is_none()) {
    out += "null";
  } else if (v.is_bool()) {
    out += std::get<bool>(v.v) ? "true" : "false";
  } else if (v.is_int()) {
    out += std::to_string(std::get<int64_t>(v.v));
  } else if (v.is_float()) {
    double d = std::get<double>(v.v);
    out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity")
                                                   : format_float(d);
  } else if (v.is_string()) {
    json_string(v.str(), out);
  } else if (v.is_list()) {
    const List& l = *v.list();
    if (l.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t i = 0; i < l.size(); ++i) {
      if (i > 0) out += indent >= 0 ? "," : ", ";
      if (indent >= 0) newline(depth + 1);
      json_into(l[i], out, indent, sort_keys, depth + 1);
    }
    if (indent >= 0) newline(depth);
    out += ']';
  } else if (v.is_dict()) {
    auto items = v.dict()->items;
    if (items.empty()) {
      out += "{}";
      return;
    }
    if (sort_keys) {
      std::stable_sort(items.begin(), items.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    out += '{';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += indent >= 0 ? "," : ", ";
      if (indent >= 0) newline(depth + 1);
      json_string(items[i].first, out);
      out += ": ";
      json_into(items[i].second, out, indent, sort_keys, depth + 1);
    }
    if (indent >= 0) newline(depth);
    out += '}';
  } else {
    throw Error("object of type " + type_name(v) + " is not JSON serializable");
  }
}

}  // namespace

std::string to_str(const Value& v) {
  if (v.is_undefined()) return "";
  if (v.is_none()) return "None";
  if (v.is_bool()) return std::get<bool>(v.v) ? "True" : "False";
  if (v.is_int()) return std::to_string(std::get<int64_t>(v.v));
  if (v.is_float()) return format_float(std::get<double>(v.v));
  if (v.is_string()) return v.str();
  if (v.is_callable()) return "<function>";
  std::string out;
  repr_into(v, out, 0);
  return out;
}

std::string repr(const Value& v) {
  std::string out;
  repr_into(v, out, 0);
  return out;
}

std::string to_json(const Value& v, int indent, bool sort_keys) {
  std::string out;
  json_into(v, out, indent, sort_keys, 0);
  return out;
}

std::string type_name(const Value& v) {
  static const char* const kNames[] = {"undefined", "NoneType", "bool", "int", "float",
                                       "str",       "list",     "dict", "function"};
  if (v.is_dict() && v.dict()->is_namespace) return "Namespace";
  return kNames[v.v.index()];
}

namespace {
bool equals_at(const Value& a, const Value& b, int depth);
int compare_at(const Value& a, const Value& b, int depth);
}  // namespace

bool equals(const Value& a, const Value& b) { return equals_at(a, b, 0); }
int compare(const Value& a, const Value& b) { return compare_at(a, b, 0); }

namespace {
bool equals_at(const Value& a, const Value& b, int depth) {
  if (depth > kMaxValueDepth) throw Error("value nested too deeply to compare");
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.v.index() != b.v.index()) return false;
  if (a.is_undefined() || a.is_none()) return true;
  if (a.is_string()) return a.str() == b.str();
  if (a.is_list()) {
    const List& x = *a.list();
    const List& y = *b.list();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!equals_at(x[i], y[i], depth + 1)) return false;
    }
    return true;
  }
  if (a.is_dict()) {
    const Dict& x = *a.dict();
    const Dict& y = *b.dict();
    if (x.is_namespace || y.is_namespace) return &x == &y;
    if (x.items.size() != y.items.size()) return false;
    for (const auto& [k, val] : x.items) {
      const Value* other = y.find(k);
      if (other == nullptr || !equals_at(val, *other, depth + 1)) return false;
    }
    return true;
  }
  return std::get<FunctionPtr>(a.v) == std::get<FunctionPtr>(b.v);
}

int compare_at(const Value& a, const Value& b, int depth) {
  if (depth > kMaxValueDepth) throw Error("value nested too deeply to compare");
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.as_double();
      double y = b.as_double();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    int64_t x = a.as_int();
    int64_t y = b.as_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.str().compare(b.str());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list()) {
    const List& x = *a.list();
    const List& y = *b.list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      int c = compare_at(x[i], y[i], depth + 1);
      if (c != 0) return c;
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  throw Error("'<' not supported between instances of '" + type_name(a) + "' and '" +
              type_name(b) + "'");
}
}  // namespace

Value from_json(const nlohmann::json& j) { return from_json_at(j, 0); }

Value from_json_at(const nlohmann::json& j, int depth) {
  if (depth > kMaxValueDepth) throw Error("context JSON nested too deeply");
  switch (j.type()) {
    case nlohmann::json::value_t::null: return None{};
    case nlohmann::json::value_t::boolean: return j.get<bool>();
    case nlohmann::json::value_t::number_integer: return j.get<int64_t>();
    case nlohmann::json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return static_cast<double>(u);
      return static_cast<int64_t>(u);
    }
    case nlohmann::json::value_t::number_float: return j.get<double>();
    case nlohmann::json::value_t::string: return j.get<std::string>();
    case nlohmann::json::value_t::array: {
      List items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json_at(e, depth + 1));
      return Value::make_list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Value d = Value::make_dict();
      for (auto it = j.begin(); it != j.end(); ++it) {
        d.dict()->items.emplace_back(it.key(), from_json_at(it.value(), depth + 1));
      }
      return d;
    }
    default: return None{};
  }
}

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t n = dkb::utf8::sequence_length(static_cast<uint8_t>(s[i]));
    if (i + n > s.size()) n = s.size() - i;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

}  // namespace dkb::tokenizer::jinja
