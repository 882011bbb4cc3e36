#include <limits>

#include "gguf/gguf.h"

namespace dkb::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::kUint8: return "u8";
    case ValueType::kInt8: return "i8";
    case ValueType::kUint16: return "u16";
    case ValueType::kInt16: return "i16";
    case ValueType::kUint32: return "u32";
    case ValueType::kInt32: return "i32";
    case ValueType::kFloat32: return "f32";
    case ValueType::kBool: return "bool";
    case ValueType::kString: return "string";
    case ValueType::kArray: return "array";
    case ValueType::kUint64: return "u64";
    case ValueType::kInt64: return "i64";
    case ValueType::kFloat64: return "f64";
  }
  return "unknown";
}

namespace {
bool is_unsigned(ValueType t) {
  return t == ValueType::kUint8 || t == ValueType::kUint16 || t == ValueType::kUint32 ||
         t == ValueType::kUint64;
}
bool is_signed(ValueType t) {
  return t == ValueType::kInt8 || t == ValueType::kInt16 || t == ValueType::kInt32 ||
         t == ValueType::kInt64;
}
}  // namespace

Value Value::make_uint(ValueType t, uint64_t v) {
  Value r;
  r.type_ = t;
  r.u_ = v;
  return r;
}
Value Value::make_int(ValueType t, int64_t v) {
  Value r;
  r.type_ = t;
  r.i_ = v;
  return r;
}
Value Value::make_float(ValueType t, double v) {
  Value r;
  r.type_ = t;
  r.f_ = v;
  return r;
}
Value Value::make_bool(bool v) {
  Value r;
  r.type_ = ValueType::kBool;
  r.u_ = v ? 1 : 0;
  return r;
}
Value Value::make_string(std::string v) {
  Value r;
  r.type_ = ValueType::kString;
  r.s_ = std::move(v);
  return r;
}
Value Value::make_array(ValueType elem_type, std::vector<Value> elems) {
  Value r;
  r.type_ = ValueType::kArray;
  r.array_type_ = elem_type;
  r.elems_ = std::move(elems);
  return r;
}
Value Value::make_string_array(std::vector<std::string> v) {
  Value r;
  r.type_ = ValueType::kArray;
  r.array_type_ = ValueType::kString;
  r.strings_ = std::move(v);
  return r;
}

bool Value::is_integer() const { return is_signed(type_) || is_unsigned(type_); }

std::optional<int64_t> Value::as_int() const {
  if (is_signed(type_)) return i_;
  if (is_unsigned(type_) || type_ == ValueType::kBool) {
    if (u_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u_);
  }
  return std::nullopt;
}

std::optional<uint64_t> Value::as_uint() const {
  if (is_unsigned(type_) || type_ == ValueType::kBool) return u_;
  if (is_signed(type_)) {
    if (i_ < 0) return std::nullopt;
    return static_cast<uint64_t>(i_);
  }
  return std::nullopt;
}

std::optional<double> Value::as_float() const {
  if (is_float()) return f_;
  if (is_signed(type_)) return static_cast<double>(i_);
  if (is_unsigned(type_)) return static_cast<double>(u_);
  return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
  if (type_ == ValueType::kBool) return u_ != 0;
  return std::nullopt;
}

const std::string* Value::as_string() const {
  return type_ == ValueType::kString ? &s_ : nullptr;
}

size_t Value::array_size() const {
  if (type_ != ValueType::kArray) return 0;
  return array_type_ == ValueType::kString ? strings_.size() : elems_.size();
}

}  // namespace dkb::gguf
