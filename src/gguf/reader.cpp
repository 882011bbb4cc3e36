// GGUF parsing. Every read goes through Cursor, which checks bounds; every count is checked
// against Limits and against the bytes left before anything is allocated for it.
#include <cstring>
#include <limits>

#include "gguf/gguf.h"

namespace dkb::gguf {
namespace {

class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }

  template <typename T>
  Status read(T* out, const char* what) {
    if (left() < sizeof(T)) return truncated(what, sizeof(T));
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::ok();
  }

  Status read_string(std::string* out, uint64_t max_len, const std::string& what) {
    uint64_t len = 0;
    DKB_RETURN_IF_ERROR(read(&len, (what + " length").c_str()));
    if (len > max_len) {
      return invalid_argument(what + ": string length " + std::to_string(len) +
                              " exceeds the limit of " + std::to_string(max_len) + " at offset " +
                              std::to_string(pos_ - 8));
    }
    if (len > left()) return truncated(what.c_str(), len);
    out->assign(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return Status::ok();
  }

  Status truncated(const char* what, uint64_t need) const {
    return corruption(std::string("truncated file: ") + what + " needs " + std::to_string(need) +
                      " bytes at offset " + std::to_string(pos_) + " but only " +
                      std::to_string(left()) + " remain");
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Minimum encoded size of one value of type t (used to bound array counts by bytes left).
uint64_t min_encoded_size(ValueType t) {
  switch (t) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool: return 1;
    case ValueType::kUint16:
    case ValueType::kInt16: return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32: return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
    case ValueType::kString: return 8;
    case ValueType::kArray: return 12;
  }
  return 1;
}

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::kFloat64); }

Status read_value(Cursor& c, ValueType t, const Limits& lim, const std::string& what, int depth,
                  Value* out);

template <typename T>
Status read_scalar(Cursor& c, ValueType t, const std::string& what, Value* out) {
  T v{};
  DKB_RETURN_IF_ERROR(c.read(&v, what.c_str()));
  if constexpr (std::is_floating_point_v<T>) {
    *out = Value::make_float(t, v);
  } else if constexpr (std::is_signed_v<T>) {
    *out = Value::make_int(t, v);
  } else {
    *out = Value::make_uint(t, v);
  }
  return Status::ok();
}

Status read_array(Cursor& c, const Limits& lim, const std::string& what, int depth, Value* out) {
  if (depth > 2) return invalid_argument(what + ": arrays nested too deeply");
  uint32_t raw_elem = 0;
  DKB_RETURN_IF_ERROR(c.read(&raw_elem, (what + " array type").c_str()));
  if (!valid_value_type(raw_elem)) {
    return corruption(what + ": unknown array element type " + std::to_string(raw_elem));
  }
  auto elem = static_cast<ValueType>(raw_elem);
  uint64_t n = 0;
  DKB_RETURN_IF_ERROR(c.read(&n, (what + " array count").c_str()));
  if (n > lim.gguf_max_array_elements) {
    return invalid_argument(what + ": array count " + std::to_string(n) + " exceeds the limit of " +
                            std::to_string(lim.gguf_max_array_elements));
  }
  if (n > c.left() / min_encoded_size(elem)) {
    return corruption("truncated file: " + what + ": array of " + std::to_string(n) + " " +
                      std::string(value_type_name(elem)) + " elements cannot fit in the " +
                      std::to_string(c.left()) + " bytes left");
  }
  if (elem == ValueType::kString) {
    std::vector<std::string> strs(n);
    for (uint64_t i = 0; i < n; ++i) {
      DKB_RETURN_IF_ERROR(c.read_string(&strs[i], lim.gguf_max_string_bytes,
                                        what + "[" + std::to_string(i) + "]"));
    }
    *out = Value::make_string_array(std::move(strs));
    return Status::ok();
  }
  std::vector<Value> elems(n);
  for (uint64_t i = 0; i < n; ++i) {
    DKB_RETURN_IF_ERROR(read_value(c, elem, lim, what, depth + 1, &elems[i]));
  }
  *out = Value::make_array(elem, std::move(elems));
  return Status::ok();
}

Status read_value(Cursor& c, ValueType t, const Limits& lim, const std::string& what, int depth,
                  Value* out) {
  switch (t) {
    case ValueType::kUint8: return read_scalar<uint8_t>(c, t, what, out);
    case ValueType::kInt8: return read_scalar<int8_t>(c, t, what, out);
    case ValueType::kUint16: return read_scalar<uint16_t>(c, t, what, out);
    case ValueType::kInt16: return read_scalar<int16_t>(c, t, what, out);
    case ValueType::kUint32: return read_scalar<uint32_t>(c, t, what, out);
    case ValueType::kInt32: return read_scalar<int32_t>(c, t, what, out);
    case ValueType::kUint64: return read_scalar<uint64_t>(c, t, what, out);
    case ValueType::kInt64: return read_scalar<int64_t>(c, t, what, out);
    case ValueType::kFloat32: return read_scalar<float>(c, t, what, out);
    case ValueType::kFloat64: return read_scalar<double>(c, t, what, out);
    case ValueType::kBool: {
      uint8_t b = 0;
      DKB_RETURN_IF_ERROR(c.read(&b, what.c_str()));
      if (b > 1) return corruption(what + ": invalid bool value " + std::to_string(b));
      *out = Value::make_bool(b != 0);
      return Status::ok();
    }
    case ValueType::kString: {
      std::string s;
      DKB_RETURN_IF_ERROR(c.read_string(&s, lim.gguf_max_string_bytes, what));
      *out = Value::make_string(std::move(s));
      return Status::ok();
    }
    case ValueType::kArray: return read_array(c, lim, what, depth, out);
  }
  return corruption(what + ": unknown value type");
}

}  // namespace

Result<File> File::open(const std::string& path, const Limits& limits,
                        MappedFile::Backing backing) {
  auto mapped = MappedFile::open(path, backing);
  if (!mapped.is_ok()) return mapped.status();
  auto f = parse(std::move(mapped).value(), limits);
  if (!f.is_ok()) return f.status().with_context("GGUF '" + path + "'");
  return f;
}

Result<File> File::parse(MappedFile mapped, const Limits& lim) {
  File f;
  f.mapped_ = std::move(mapped);
  Cursor c(f.mapped_.data(), f.mapped_.size());

  uint32_t magic = 0;
  DKB_RETURN_IF_ERROR(c.read(&magic, "magic"));
  if (magic != kMagic) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "bad magic 0x%08x (expected \"GGUF\")", magic);
    return invalid_argument(buf);
  }
  DKB_RETURN_IF_ERROR(c.read(&f.version_, "version"));
  if (f.version_ < 2 || f.version_ > 3) {
    return unimplemented("unsupported GGUF version " + std::to_string(f.version_) +
                         " (supported: 2, 3)");
  }
  uint64_t n_tensors = 0, n_kv = 0;
  DKB_RETURN_IF_ERROR(c.read(&n_tensors, "tensor count"));
  DKB_RETURN_IF_ERROR(c.read(&n_kv, "metadata count"));
  if (n_tensors > lim.gguf_max_tensors) {
    return invalid_argument("tensor count " + std::to_string(n_tensors) + " exceeds the limit of " +
                            std::to_string(lim.gguf_max_tensors));
  }
  if (n_kv > lim.gguf_max_kv) {
    return invalid_argument("metadata count " + std::to_string(n_kv) + " exceeds the limit of " +
                            std::to_string(lim.gguf_max_kv));
  }

  f.kv_.reserve(std::min<uint64_t>(n_kv, c.left() / 12));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key;
    std::string what = "metadata " + std::to_string(i);
    DKB_RETURN_IF_ERROR(c.read_string(&key, 65535, what + " key"));
    what += " '" + key + "'";
    uint32_t raw_type = 0;
    DKB_RETURN_IF_ERROR(c.read(&raw_type, (what + " type").c_str()));
    if (!valid_value_type(raw_type)) {
      return corruption(what + ": unknown value type " + std::to_string(raw_type));
    }
    Value v;
    DKB_RETURN_IF_ERROR(read_value(c, static_cast<ValueType>(raw_type), lim, what, 0, &v));
    if (f.kv_index_.count(key)) return corruption(what + ": duplicate key");
    f.kv_index_.emplace(key, f.kv_.size());
    f.kv_.emplace_back(std::move(key), std::move(v));
  }

  if (const Value* a = f.find("general.alignment")) {
    auto al = a->as_uint();
    if (!al || *al == 0 || (*al & (*al - 1)) != 0 || *al > lim.gguf_max_alignment) {
      return invalid_argument("general.alignment must be a power of two no larger than " +
                              std::to_string(lim.gguf_max_alignment));
    }
    f.alignment_ = *al;
  }

  f.tensors_.reserve(std::min<uint64_t>(n_tensors, c.left() / 24));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    std::string what = "tensor " + std::to_string(i);
    DKB_RETURN_IF_ERROR(c.read_string(&t.name, 65535, what + " name"));
    what += " '" + t.name + "'";
    uint32_t n_dims = 0;
    DKB_RETURN_IF_ERROR(c.read(&n_dims, (what + " dimension count").c_str()));
    if (n_dims == 0 || n_dims > lim.gguf_max_dims) {
      return invalid_argument(what + ": dimension count " + std::to_string(n_dims) +
                              " outside [1, " + std::to_string(lim.gguf_max_dims) + "]");
    }
    int64_t n_elem = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      int64_t ne = 0;
      DKB_RETURN_IF_ERROR(c.read(&ne, (what + " shape").c_str()));
      if (ne < 0) return invalid_argument(what + ": negative dimension " + std::to_string(ne));
      if (ne != 0 && n_elem > std::numeric_limits<int64_t>::max() / ne) {
        return invalid_argument(what + ": shape overflows 64-bit element count");
      }
      n_elem *= ne;
      t.ne.push_back(ne);
    }
    uint32_t raw_type = 0;
    DKB_RETURN_IF_ERROR(c.read(&raw_type, (what + " type").c_str()));
    auto traits = tensor_type_traits(raw_type);
    if (!traits) return invalid_argument(what + ": unknown tensor type " + std::to_string(raw_type));
    t.type = static_cast<TensorType>(raw_type);
    if (t.ne[0] % traits->block_size != 0) {
      return invalid_argument(what + ": row length " + std::to_string(t.ne[0]) +
                              " is not a multiple of the " + std::string(traits->name) +
                              " block size " + std::to_string(traits->block_size));
    }
    DKB_RETURN_IF_ERROR(c.read(&t.offset, (what + " offset").c_str()));
    if (t.offset % f.alignment_ != 0) {
      return corruption(what + ": data offset " + std::to_string(t.offset) +
                        " is not aligned to " + std::to_string(f.alignment_));
    }
    // n_elem < 2^63 and type_size <= 292, block_size >= 1: compute in 128 bits to be safe.
    unsigned __int128 bytes = static_cast<unsigned __int128>(n_elem / traits->block_size) *
                              traits->type_size;
    if (bytes > std::numeric_limits<uint64_t>::max() / 2) {
      return invalid_argument(what + ": tensor byte size overflows");
    }
    t.n_bytes = static_cast<size_t>(bytes);
    if (f.tensor_index_.count(t.name)) return corruption(what + ": duplicate tensor name");
    f.tensor_index_.emplace(t.name, f.tensors_.size());
    f.tensors_.push_back(std::move(t));
  }

  uint64_t data_start = (c.pos() + f.alignment_ - 1) / f.alignment_ * f.alignment_;
  uint64_t size = f.mapped_.size();
  if (n_tensors > 0 && data_start > size) {
    return corruption("truncated file: data section would start at offset " +
                      std::to_string(data_start) + " past end of file (" + std::to_string(size) +
                      " bytes)");
  }
  for (size_t i = 0; i < f.tensors_.size(); ++i) {
    TensorInfo& t = f.tensors_[i];
    uint64_t avail = size - data_start;
    if (t.offset > avail || t.n_bytes > avail - t.offset) {
      return corruption("tensor " + std::to_string(i) + " '" + t.name + "': data [" +
                        std::to_string(data_start + t.offset) + ", " +
                        std::to_string(data_start + t.offset + t.n_bytes) +
                        ") past end of file (" + std::to_string(size) + " bytes)");
    }
    t.data = f.mapped_.data() + data_start + t.offset;
  }
  return f;
}

const Value* File::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

uint8_t* File::writable_tensor_data(std::string_view name) {
  const TensorInfo* t = find_tensor(name);
  if (t != nullptr && writable_replaced_.count(name)) return const_cast<uint8_t*>(t->data);
  const uint8_t* base = mapped_.data();
  if (t == nullptr || mapped_.backing() != MappedFile::Backing::kHugePageCopy || base == nullptr ||
      t->data < base || t->data >= base + mapped_.size()) {
    return nullptr;
  }
  uint8_t* bytes = mapped_.unseal();
  return bytes == nullptr ? nullptr : bytes + (t->data - base);
}

Status File::replace_tensor(std::string_view name, TensorType type, uint8_t* data,
                            size_t n_bytes) {
  DKB_RETURN_IF_ERROR(replace_tensor(name, type, static_cast<const uint8_t*>(data), n_bytes));
  writable_replaced_.emplace(name);
  return Status::ok();
}

Status File::replace_tensor(std::string_view name, TensorType type, const uint8_t* data,
                            size_t n_bytes) {
  auto it = tensor_index_.find(name);
  if (it == tensor_index_.end()) return not_found("no tensor '" + std::string(name) + "'");
  TensorInfo& t = tensors_[it->second];
  auto traits = tensor_type_traits(type);
  if (!traits || t.ne.empty() || t.ne[0] % traits->block_size != 0) {
    return invalid_argument("tensor '" + t.name + "' cannot have type " +
                            std::string(tensor_type_name(type)));
  }
  const size_t expect =
      static_cast<size_t>(t.n_elements() / traits->block_size) * traits->type_size;
  if (expect != n_bytes) {
    return invalid_argument("tensor '" + t.name + "': " + std::to_string(n_bytes) +
                            " bytes given, " + std::to_string(expect) + " expected");
  }
  t.type = type;
  t.data = data;
  t.n_bytes = n_bytes;
  writable_replaced_.erase(t.name);
  return Status::ok();
}

std::optional<std::string> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v || !v->is_string()) return std::nullopt;
  return *v->as_string();
}
std::optional<uint64_t> File::get_uint(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_uint() : std::nullopt;
}
std::optional<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_int() : std::nullopt;
}
std::optional<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_float() : std::nullopt;
}
std::optional<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_bool() : std::nullopt;
}
const std::vector<std::string>* File::get_strings(std::string_view key) const {
  const Value* v = find(key);
  if (!v || !v->is_array() || v->array_type() != ValueType::kString) return nullptr;
  return &v->strings();
}
std::optional<std::vector<int64_t>> File::get_int_array(std::string_view key) const {
  const Value* v = find(key);
  if (!v || !v->is_array() || v->array_type() == ValueType::kString) return std::nullopt;
  std::vector<int64_t> out;
  out.reserve(v->elements().size());
  for (const Value& e : v->elements()) {
    auto x = e.as_int();
    if (!x) return std::nullopt;
    out.push_back(*x);
  }
  return out;
}
std::optional<std::vector<double>> File::get_float_array(std::string_view key) const {
  const Value* v = find(key);
  if (!v || !v->is_array() || v->array_type() == ValueType::kString) return std::nullopt;
  std::vector<double> out;
  out.reserve(v->elements().size());
  for (const Value& e : v->elements()) {
    auto x = e.as_float();
    if (!x) return std::nullopt;
    out.push_back(*x);
  }
  return out;
}

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

}  // namespace dkb::gguf
