#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

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

Result<size_t> Writer::check_tensor(const std::string& name, TensorType type,
                                    const std::vector<int64_t>& ne) const {
  auto traits = tensor_type_traits(type);
  if (!traits) return invalid_argument("unknown tensor type");
  if (ne.empty() || ne.size() > 4) return invalid_argument(name + ": need 1 to 4 dimensions");
  int64_t n = 1;
  for (int64_t d : ne) {
    if (d < 0) return invalid_argument(name + ": negative dimension");
    n *= d;
  }
  if (ne[0] % traits->block_size != 0) {
    return invalid_argument(name + ": row length not a multiple of the block size");
  }
  for (const auto& t : tensors_) {
    if (t.name == name) return already_exists("tensor '" + name + "' added twice");
  }
  return static_cast<size_t>(n / traits->block_size) * traits->type_size;
}

Status Writer::add_tensor(std::string name, TensorType type, std::vector<int64_t> ne,
                          const void* data, size_t n_bytes) {
  DKB_ASSIGN_OR_RETURN(size_t expect, check_tensor(name, type, ne));
  if (expect != n_bytes) {
    return invalid_argument(name + ": " + std::to_string(n_bytes) + " bytes given, " +
                            std::to_string(expect) + " expected");
  }
  tensors_.push_back(
      {std::move(name), type, std::move(ne), n_bytes, false,
       std::string(static_cast<const char*>(data), static_cast<const char*>(data) + n_bytes)});
  return Status::ok();
}

Status Writer::add_tensor_deferred(std::string name, TensorType type, std::vector<int64_t> ne) {
  DKB_ASSIGN_OR_RETURN(size_t n_bytes, check_tensor(name, type, ne));
  tensors_.push_back({std::move(name), type, std::move(ne), n_bytes, true, {}});
  return Status::ok();
}

std::string Writer::header() const {
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
    offset += (t.n_bytes + alignment_ - 1) / alignment_ * alignment_;
  }
  pad_to(out, alignment_);
  return out;
}

std::string Writer::serialize() const {
  std::string out = header();
  for (const auto& t : tensors_) {
    DKB_CHECK_MSG(!t.deferred, "serialize() needs every tensor's bytes; use write_streaming()");
    out += t.bytes;
    pad_to(out, alignment_);
  }
  return out;
}

namespace {

// Buffered output to a FILE*, counting bytes so padding and producer sizes can be checked.
class FileSink : public TensorSink {
 public:
  FileSink(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
  Status write(const void* data, size_t n_bytes) override {
    if (n_bytes == 0) return Status::ok();
    if (std::fwrite(data, 1, n_bytes, f_) != n_bytes) {
      return io_error("cannot write '" + path_ + "': " + std::strerror(errno));
    }
    written_ += n_bytes;
    return Status::ok();
  }
  Status pad(uint64_t alignment) {
    static const char kZeros[256] = {};
    while (written_ % alignment != 0) {
      const size_t n = std::min<uint64_t>(sizeof kZeros, alignment - written_ % alignment);
      DKB_RETURN_IF_ERROR(write(kZeros, n));
    }
    return Status::ok();
  }
  uint64_t written() const { return written_; }

 private:
  std::FILE* f_;
  std::string path_;
  uint64_t written_ = 0;
};

}  // namespace

Status Writer::write_streaming(const std::string& path, const TensorProducer& produce) const {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return io_error("cannot create '" + tmp + "': " + std::strerror(errno));
  std::vector<char> buf(1 << 20);
  std::setvbuf(f, buf.data(), _IOFBF, buf.size());
  auto body = [&]() -> Status {
    FileSink sink(f, tmp);
    const std::string head = header();
    DKB_RETURN_IF_ERROR(sink.write(head.data(), head.size()));
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const PendingTensor& t = tensors_[i];
      const uint64_t start = sink.written();
      if (t.deferred) {
        if (!produce) return failed_precondition("tensor '" + t.name + "' has no data");
        Status st = produce(i, sink);
        if (!st.is_ok()) return st.with_context("tensor '" + t.name + "'");
      } else {
        DKB_RETURN_IF_ERROR(sink.write(t.bytes.data(), t.bytes.size()));
      }
      if (sink.written() - start != t.n_bytes) {
        return internal_error("tensor '" + t.name + "': " + std::to_string(sink.written() - start) +
                              " bytes produced, " + std::to_string(t.n_bytes) + " expected");
      }
      DKB_RETURN_IF_ERROR(sink.pad(alignment_));
    }
    if (std::fflush(f) != 0) return io_error("cannot write '" + tmp + "': " + std::strerror(errno));
    return Status::ok();
  };
  Status st = body();
  if (std::fclose(f) != 0 && st.is_ok()) {
    st = io_error("cannot close '" + tmp + "': " + std::strerror(errno));
  }
  if (st.is_ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    st = io_error("cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno));
  }
  if (!st.is_ok()) std::remove(tmp.c_str());
  return st;
}

Status Writer::write(const std::string& path) const {
  for (const auto& t : tensors_) {
    if (t.deferred) {
      return failed_precondition("tensor '" + t.name + "' is deferred; use write_streaming()");
    }
  }
  return write_streaming(path, nullptr);
}

}  // namespace dkb::gguf
