// Value semantics: truthiness, equality and ordering as Python defines them; the container
// arena; JSON input. Text formatting lives in jinja_value_format.cpp.
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

ContainerArena::ContainerArena() : previous_(t_arena) {
  t_arena = this;
}

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

std::string type_name(const Value& v) {
  static const char* const kNames[] = {"undefined", "NoneType", "bool", "int",     "float",
                                       "str",       "list",     "dict", "function"};
  if (v.is_dict() && v.dict()->is_namespace) return "Namespace";
  return kNames[v.v.index()];
}

namespace {
bool equals_at(const Value& a, const Value& b, int depth);
int compare_at(const Value& a, const Value& b, int depth);
}  // namespace

bool equals(const Value& a, const Value& b) {
  return equals_at(a, b, 0);
}
int compare(const Value& a, const Value& b) {
  return compare_at(a, b, 0);
}

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
  throw Error("'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) +
              "'");
}
}  // namespace

Value from_json(const nlohmann::json& j) {
  return from_json_at(j, 0);
}

Value from_json_at(const nlohmann::json& j, int depth) {
  if (depth > kMaxValueDepth) throw Error("context JSON nested too deeply");
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return None{};
    case nlohmann::json::value_t::boolean:
      return j.get<bool>();
    case nlohmann::json::value_t::number_integer:
      return j.get<int64_t>();
    case nlohmann::json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return static_cast<double>(u);
      return static_cast<int64_t>(u);
    }
    case nlohmann::json::value_t::number_float:
      return j.get<double>();
    case nlohmann::json::value_t::string:
      return j.get<std::string>();
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
    default:
      return None{};
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
