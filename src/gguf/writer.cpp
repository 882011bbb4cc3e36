#include <cstdio>
#include <cstring>
#include <fstream>

#include <unistd.h>

#include "gguf/gguf.h"

namespace dkb::gguf {
namespace {

template <typename T>
void put(std::string& out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

void put_string(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

void put_value(std::string& out, const Value& v) {
  switch (v.type()) {
    case ValueType::kUint8: put<uint8_t>(out, static_cast<uint8_t>(*v.as_uint())); break;
    case ValueType::kInt8: put<int8_t>(out, static_cast<int8_t>(*v.as_int())); break;
    case ValueType::kUint16: put<uint16_t>(out, static_cast<uint16_t>(*v.as_uint())); break;
    case ValueType::kInt16: put<int16_t>(out, static_cast<int16_t>(*v.as_int())); break;
    case ValueType::kUint32: put<uint32_t>(out, static_cast<uint32_t>(*v.as_uint())); break;
    case ValueType::kInt32: put<int32_t>(out, static_cast<int32_t>(*v.as_int())); break;
    case ValueType::kUint64: put<uint64_t>(out, *v.as_uint()); break;
    case ValueType::kInt64: put<int64_t>(out, *v.as_int()); break;
    case ValueType::kFloat32: put<float>(out, static_cast<float>(*v.as_float())); break;
    case ValueType::kFloat64: put<double>(out, *v.as_float()); break;
    case ValueType::kBool: put<uint8_t>(out, *v.as_bool() ? 1 : 0); break;
    case ValueType::kString: put_string(out, *v.as_string()); break;
    case ValueType::kArray:
      put<uint32_t>(out, static_cast<uint32_t>(v.array_type()));
      put<uint64_t>(out, v.array_size());
      if (v.array_type() == ValueType::kString) {
        for (const auto& s : v.strings()) put_string(out, s);
      } else {
        for (const auto& e : v.elements()) put_value(out, e);
      }
      break;
  }
}

void pad_to(std::string& out, uint64_t alignment) {
  while (out.size() % alignment != 0) out.push_back('\0');
}

}  // namespace

void Writer::set(std::string key, Value v) {
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  }
  kv_.emplace_back(std::move(key), std::move(v));
}

Status Writer::add_tensor(std::string name, TensorType type, std::vector<int64_t> ne,
                          const void* data, size_t n_bytes) {
  auto traits = tensor_type_traits(type);
  if (!traits) return invalid_argument("unknown tensor type");
  if (ne.empty() || ne.size() > 4) return invalid_argument(name + ": need 1 to 4 dimensions");
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  if (ne[0] % traits->block_size != 0) {
    return invalid_argument(name + ": row length not a multiple of the block size");
  }
  size_t expect = static_cast<size_t>(n / traits->block_size) * traits->type_size;
  if (expect != n_bytes) {
    return invalid_argument(name + ": " + std::to_string(n_bytes) + " bytes given, " +
                            std::to_string(expect) + " expected");
  }
  for (const auto& t : tensors_) {
    if (t.name == name) return already_exists("tensor '" + name + "' added twice");
  }
  tensors_.push_back(
      {std::move(name), type, std::move(ne),
       std::string(static_cast<const char*>(data), static_cast<const char*>(data) + n_bytes)});
  return Status::ok();
}

std::string Writer::serialize() const {
  std::string out;
  put<uint32_t>(out, kMagic);
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors_.size());
  bool write_alignment = alignment_ != kDefaultAlignment;
  bool has_alignment_key = false;
  for (const auto& kv : kv_) has_alignment_key |= kv.first == "general.alignment";
  put<uint64_t>(out, kv_.size() + (write_alignment && !has_alignment_key ? 1 : 0));
  for (const auto& kv : kv_) {
    put_string(out, kv.first);
    put<uint32_t>(out, static_cast<uint32_t>(kv.second.type()));
    put_value(out, kv.second);
  }
  if (write_alignment && !has_alignment_key) {
    put_string(out, "general.alignment");
    put<uint32_t>(out, static_cast<uint32_t>(ValueType::kUint32));
    put<uint32_t>(out, static_cast<uint32_t>(alignment_));
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put<int64_t>(out, d);
    put<uint32_t>(out, static_cast<uint32_t>(t.type));
    put<uint64_t>(out, offset);
    offset += (t.bytes.size() + alignment_ - 1) / alignment_ * alignment_;
  }
  pad_to(out, alignment_);
  for (const auto& t : tensors_) {
    out += t.bytes;
    pad_to(out, alignment_);
  }
  return out;
}

Status Writer::write(const std::string& path) const {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return io_error("cannot create '" + tmp + "'");
    std::string bytes = serialize();
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      return io_error("cannot write '" + tmp + "'");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return io_error("cannot rename '" + tmp + "' to '" + path + "'");
  }
  return Status::ok();
}

}  // namespace dkb::gguf
