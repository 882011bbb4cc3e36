// MappedFile: a read-only, private memory map of a whole file (RAII).
//
// Ownership: owns the mapping; movable, not copyable. The bytes stay valid until the
// MappedFile is destroyed. Thread-safety: immutable after open(), safe to read from any thread.
// Errors: open() returns kNotFound / kIOError with the path and errno text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.h"

namespace dkb {

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  static Result<MappedFile> open(const std::string& path);

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Hint that bytes [p, p + n) of the mapping will not be read again: the whole pages inside
  // the range leave this process's resident memory (the mapping stays valid; touching them
  // again re-reads the file). Used after load-time quantization has consumed the F16 weights.
  // Ranges outside the mapping are ignored. Never fails (it is only a hint).
  void release_pages(const void* p, size_t n) const;

 private:
  void reset();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace dkb
