// Value: the dynamic type of the Jinja interpreter (dkb::tokenizer::jinja).
//
// Mirrors the Python objects Jinja templates see: Undefined, None, bool, int, float, str,
// list, dict (insertion-ordered; also used for namespace() objects) and callables. Lists and
// dicts are shared by reference like Python objects, so `ns.items.append(x)` is visible
// through every alias. Strings are UTF-8; length and slicing count code points.
// Errors are thrown as jinja::Error (caught at the ChatTemplate boundary).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace dkb::tokenizer::jinja {

// A template error; line/col are 1-based, 0 when not yet known.
class Error : public std::runtime_error {
 public:
  Error(const std::string& msg, int line = 0, int col = 0)
      : std::runtime_error(msg), line_(line), col_(col) {}
  int line() const { return line_; }
  int col() const { return col_; }
  // Set when raise_exception() was called: the message is the template's own.
  bool raised = false;

 private:
  int line_;
  int col_;
};

struct Value;
struct Dict;
struct Args;
using List = std::vector<Value>;
using ListPtr = std::shared_ptr<List>;
using DictPtr = std::shared_ptr<Dict>;
using Function = std::function<Value(Args&)>;
using FunctionPtr = std::shared_ptr<const Function>;

struct Undefined {
  std::string name;  // what was looked up, for error messages
};
struct None {};

struct Value {
  std::variant<Undefined, None, bool, int64_t, double, std::string, ListPtr, DictPtr, FunctionPtr>
      v;

  Value() = default;
  Value(Undefined u) : v(std::move(u)) {}       // NOLINT
  Value(None n) : v(n) {}                       // NOLINT
  Value(bool b) : v(b) {}                       // NOLINT
  Value(int64_t i) : v(i) {}                    // NOLINT
  Value(int i) : v(static_cast<int64_t>(i)) {}  // NOLINT
  Value(double d) : v(d) {}                     // NOLINT
  Value(std::string s) : v(std::move(s)) {}     // NOLINT
  Value(const char* s) : v(std::string(s)) {}   // NOLINT
  Value(ListPtr l) : v(std::move(l)) {}         // NOLINT
  Value(DictPtr d) : v(std::move(d)) {}         // NOLINT
  Value(FunctionPtr f) : v(std::move(f)) {}     // NOLINT

  bool is_undefined() const { return std::holds_alternative<Undefined>(v); }
  bool is_none() const { return std::holds_alternative<None>(v); }
  bool is_bool() const { return std::holds_alternative<bool>(v); }
  bool is_int() const { return std::holds_alternative<int64_t>(v); }
  bool is_float() const { return std::holds_alternative<double>(v); }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return std::holds_alternative<std::string>(v); }
  bool is_list() const { return std::holds_alternative<ListPtr>(v); }
  bool is_dict() const { return std::holds_alternative<DictPtr>(v); }
  bool is_callable() const { return std::holds_alternative<FunctionPtr>(v); }

  const std::string& str() const { return std::get<std::string>(v); }
  const ListPtr& list() const { return std::get<ListPtr>(v); }
  const DictPtr& dict() const { return std::get<DictPtr>(v); }
  int64_t as_int() const;    // bool/int/float (truncated)
  double as_double() const;  // bool/int/float

  static Value make_list(List items = {});
  static Value make_dict();
  static Value make_function(Function f);
};

struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;

  const Value* find(const std::string& key) const;
  void set(const std::string& key, Value value);
};

// Every list and dict created while a ContainerArena is active on this thread is also
// owned by the arena. Because the arena keeps each container alive, destroying one never
// cascades into its children, so deeply nested values cannot overflow the stack, and the
// arena's destructor empties all containers first, which also frees reference cycles
// (`l.append(l)`). Containers only the arena still holds are dropped periodically.
class ContainerArena {
 public:
  ContainerArena();
  ~ContainerArena();
  ContainerArena(const ContainerArena&) = delete;
  ContainerArena& operator=(const ContainerArena&) = delete;

  static void track(const ListPtr& l);
  static void track(const DictPtr& d);

 private:
  void compact();

  ContainerArena* previous_;
  std::vector<ListPtr> lists_;
  std::vector<DictPtr> dicts_;
  size_t next_compaction_ = 4096;
};

// Call arguments: positional then keyword.
struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;

  // Positional i, else keyword `name`, else fallback.
  Value get(size_t i, const std::string& name, Value fallback = Undefined{}) const;
};

// Python truthiness (Undefined is falsy).
bool truthy(const Value& v);
// Python str() (Undefined -> "", None -> "None", True -> "True", lists as repr).
std::string to_str(const Value& v);
// Python repr().
std::string repr(const Value& v);
// Options of Python's json.dumps as transformers' tojson filter passes them.
struct JsonOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;          // per-level indent; none = single line
  std::optional<std::string> item_separator;  // default ", " (or "," when indented)
  std::optional<std::string> key_separator;   // default ": "
  bool sort_keys = false;
};
std::string to_json(const Value& v, const JsonOptions& options = {});
std::string type_name(const Value& v);
bool equals(const Value& a, const Value& b);
// <0, 0, >0; throws for incomparable types.
int compare(const Value& a, const Value& b);
Value from_json(const nlohmann::json& j);
Value from_json_at(const nlohmann::json& j, int depth);

// Python float repr, e.g. 1.0, 0.1, 1e-05, 1e+16.
std::string format_float(double d);

// Code-point helpers for Python-style string indexing.
std::vector<std::string> utf8_chars(const std::string& s);
size_t utf8_length(const std::string& s);

// Maximum nesting when converting values (guards self-referential lists).
constexpr int kMaxValueDepth = 128;

}  // namespace dkb::tokenizer::jinja
