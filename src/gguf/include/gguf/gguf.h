// GGUF reader (v2/v3) over a read-only memory map.
//
// The file is untrusted input: every count, length, offset, type and shape is checked against
// the file size and the bounds in Limits; a bad file yields kCorruption/kInvalidArgument whose
// message names the field and its position (e.g. "tensor 3 'blk.0.attn_q.weight': data
// [1024, 5120) past end of file (4096 bytes)"), never a crash.
//
// Ownership: File owns its MappedFile; TensorInfo::data points into it and lives as long as
// the File (or, after replace_tensor(), into a buffer the caller keeps alive as long).
// Thread-safety: immutable after open() (replace_tensor() aside, which must happen before the
// File is shared); safe to share across threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/limits.h"
#include "base/mapped_file.h"
#include "base/status.h"
#include "base/tensor_type.h"

namespace dkb::gguf {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kDefaultAlignment = 32;

enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
std::string_view value_type_name(ValueType t);

// A metadata value. Integers of every width are held as int64/uint64, floats as double;
// type() keeps the exact on-disk type so a writer can round-trip it.
class Value {
 public:
  Value() = default;
  static Value make_uint(ValueType t, uint64_t v);
  static Value make_int(ValueType t, int64_t v);
  static Value make_float(ValueType t, double v);
  static Value make_bool(bool v);
  static Value make_string(std::string v);
  static Value make_array(ValueType elem_type, std::vector<Value> elems);
  static Value make_string_array(std::vector<std::string> v);

  ValueType type() const { return type_; }
  bool is_array() const { return type_ == ValueType::kArray; }
  bool is_string() const { return type_ == ValueType::kString; }
  bool is_integer() const;
  bool is_float() const { return type_ == ValueType::kFloat32 || type_ == ValueType::kFloat64; }

  // Numeric views: nullopt when the value is not numeric or does not fit.
  std::optional<int64_t> as_int() const;
  std::optional<uint64_t> as_uint() const;
  std::optional<double> as_float() const;  // integers convert too
  std::optional<bool> as_bool() const;
  const std::string* as_string() const;

  // Arrays.
  ValueType array_type() const { return array_type_; }
  size_t array_size() const;
  const std::vector<Value>& elements() const { return elems_; }         // non-string arrays
  const std::vector<std::string>& strings() const { return strings_; }  // string arrays

 private:
  ValueType type_ = ValueType::kUint8;
  ValueType array_type_ = ValueType::kUint8;
  uint64_t u_ = 0;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  std::vector<Value> elems_;
  std::vector<std::string> strings_;
};

struct TensorInfo {
  std::string name;
  TensorType type = TensorType::kF32;
  std::vector<int64_t> ne;   // dims, ggml order: ne[0] is the row length (contiguous)
  uint64_t offset = 0;       // from the start of the data section
  size_t n_bytes = 0;
  const uint8_t* data = nullptr;

  int64_t n_elements() const;
  int64_t n_rows() const { return ne.empty() || ne[0] == 0 ? 0 : n_elements() / ne[0]; }
};

class File {
 public:
  // Opens and validates path. Everything is checked before this returns. `backing` chooses a
  // file map or a huge-page copy of the bytes (MappedFile::Backing).
  static Result<File> open(const std::string& path, const Limits& limits = Limits::defaults(),
                           MappedFile::Backing backing = MappedFile::Backing::kFileMap);
  // Parses an already-mapped file (takes ownership).
  static Result<File> parse(MappedFile mapped, const Limits& limits = Limits::defaults());

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const std::string& path() const { return mapped_.path(); }
  size_t file_size() const { return mapped_.size(); }
  MappedFile::Backing backing() const { return mapped_.backing(); }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;

  // Typed getters: nullopt when the key is absent or has an incompatible type.
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<uint64_t> get_uint(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  // String array, or null.
  const std::vector<std::string>* get_strings(std::string_view key) const;
  // Numeric array converted to the requested type, or nullopt.
  std::optional<std::vector<int64_t>> get_int_array(std::string_view key) const;
  std::optional<std::vector<double>> get_float_array(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

  // Points tensor `name` at n_bytes of `type` elsewhere (same shape), e.g. weights its owner
  // quantized in memory at load time. The caller keeps data alive as long as this File. Only
  // for an owner that has not shared the File yet (not thread-safe). Errors: kNotFound,
  // kInvalidArgument when n_bytes does not match type and shape. The overload taking mutable
  // bytes also makes them writable_tensor_data (the owner's buffer may be rewritten in place).
  Status replace_tensor(std::string_view name, TensorType type, const uint8_t* data,
                        size_t n_bytes);
  Status replace_tensor(std::string_view name, TensorType type, uint8_t* data, size_t n_bytes);
  // The bytes of tensor `name` for rewriting in place (same size, e.g. reordered for the
  // kernels at load): a tensor in the Backing::kHugePageCopy copy (which stays writable until
  // seal()) or one replaced with mutable bytes; null otherwise (a file map). Only for an owner
  // that has not shared the File yet (as replace_tensor).
  uint8_t* writable_tensor_data(std::string_view name);
  void seal() { mapped_.seal(); }
  // Drops the resident pages of [data, data + n) if it lies in the mapping (a hint; see
  // MappedFile::release_pages), e.g. the original bytes of a tensor after replace_tensor().
  void release_pages(const void* data, size_t n) const { mapped_.release_pages(data, n); }

 private:
  MappedFile mapped_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  std::vector<std::pair<std::string, Value>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
  std::set<std::string, std::less<>> writable_replaced_;  // replace_tensor with mutable bytes
};

// Receives a tensor's bytes in one or more pieces while a Writer streams a file.
class TensorSink {
 public:
  virtual ~TensorSink() = default;
  virtual Status write(const void* data, size_t n_bytes) = 0;
};

// Writes GGUF v3 files. Keys and tensors are written in insertion order; tensor data is
// aligned to `alignment` (general.alignment is written when it differs from 32).
//
// Two ways to supply tensor data:
//  - add_tensor() copies the bytes now (small files, tests); write()/serialize() emit them.
//  - add_tensor_deferred() declares name, type and shape only; write_streaming() then asks a
//    TensorProducer for each deferred tensor's bytes, in file order, while writing. Memory use
//    is whatever the producer holds, never the whole file (quantizing a multi-GB model).
// Ownership: the Writer owns copied bytes only. Not thread-safe.
class Writer {
 public:
  // Called once per deferred tensor, in file order, with its index among all tensors; it must
  // write exactly the tensor's size (type and shape) to sink, or return an error.
  using TensorProducer = std::function<Status(size_t tensor_index, TensorSink& sink)>;

  explicit Writer(uint64_t alignment = kDefaultAlignment) : alignment_(alignment) {}

  // Sets a key; an existing key keeps its position and gets the new value.
  void set(std::string key, Value v);
  void set_string(std::string key, std::string v) { set(std::move(key), Value::make_string(std::move(v))); }
  void set_u32(std::string key, uint32_t v) { set(std::move(key), Value::make_uint(ValueType::kUint32, v)); }
  void set_i32(std::string key, int32_t v) { set(std::move(key), Value::make_int(ValueType::kInt32, v)); }
  void set_f32(std::string key, float v) { set(std::move(key), Value::make_float(ValueType::kFloat32, v)); }
  void set_bool(std::string key, bool v) { set(std::move(key), Value::make_bool(v)); }

  // Copies data (n_bytes must equal the size implied by type and ne).
  Status add_tensor(std::string name, TensorType type, std::vector<int64_t> ne, const void* data,
                    size_t n_bytes);
  // Declares a tensor whose bytes write_streaming() will ask for. Same checks as add_tensor.
  Status add_tensor_deferred(std::string name, TensorType type, std::vector<int64_t> ne);
  // Bytes of tensor i's data (without padding).
  size_t tensor_bytes(size_t i) const { return tensors_[i].n_bytes; }
  size_t n_tensors() const { return tensors_.size(); }

  // Writes atomically (temporary file + rename). kFailedPrecondition if a tensor is deferred.
  Status write(const std::string& path) const;
  // Writes atomically, streaming: header first, then each tensor's data (copied bytes, or the
  // producer's for deferred tensors). On any error (producer's, a size mismatch, I/O) the
  // temporary file is removed and path is left untouched.
  Status write_streaming(const std::string& path, const TensorProducer& produce) const;
  // Serialises to memory (tests, fuzzing). Deferred tensors are a programmer error.
  std::string serialize() const;

 private:
  struct PendingTensor {
    std::string name;
    TensorType type;
    std::vector<int64_t> ne;
    size_t n_bytes = 0;
    bool deferred = false;
    std::string bytes;
  };
  Result<size_t> check_tensor(const std::string& name, TensorType type,
                              const std::vector<int64_t>& ne) const;
  std::string header() const;
  uint64_t alignment_;
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace dkb::gguf
