// MappedFile: a whole file's bytes in memory, read-only (RAII), backed either by a private
// memory map of the file or by a copy in anonymous memory on 2 MiB pages.
//
// Backing::kFileMap maps the file: nothing is read until touched, pages are shared with the
// page cache (and other processes), on 4 KiB pages. Backing::kHugePageCopy reads the whole file
// into a HugePageBuffer (anonymous memory on transparent huge pages): load reads every byte
// once and the process holds its own copy, but streaming the bytes later (decode reads every
// weight once per token) takes ~1/512 of the TLB misses and measured 16-20% faster with two
// threads on the 4-bit weight types (bench/README.md). The copy is made read-only after it is
// filled.
//
// Ownership: owns the mapping; movable, not copyable. The bytes stay valid until the
// MappedFile is destroyed. Thread-safety: immutable after open(), safe to read from any thread.
// Errors: open() returns kNotFound / kIOError with the path and errno text (kIOError also for
// a short read or a failed allocation of the copy).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/huge_page_buffer.h"
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

  enum class Backing { kFileMap, kHugePageCopy };

  static Result<MappedFile> open(const std::string& path, Backing backing = Backing::kFileMap);


  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  Backing backing() const { return backing_; }
  const std::string& path() const { return path_; }

  // Hint that bytes [p, p + n) of the mapping will not be read again: the whole pages inside
  // the range leave this process's resident memory (the mapping stays valid; touching them
  // again re-reads the file with kFileMap, and reads zeros with kHugePageCopy). Used after
  // load-time quantization has consumed the F16 weights.
  // Ranges outside the mapping are ignored. Never fails (it is only a hint).
  void release_pages(const void* p, size_t n) const;

  // kHugePageCopy: makes the copy writable until seal() and returns its bytes (the same
  // address as data()), for an owner that rewrites them in place before sharing the
  // MappedFile (e.g. weights reordered for the kernels at load). kFileMap: null (a file map is
  // never written).
  uint8_t* unseal();
  // Makes the copy read-only again (no-op for kFileMap).
  void seal();

 private:
  void reset();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  Backing backing_ = Backing::kFileMap;
  HugePageBuffer copy_;  // kHugePageCopy: owns the bytes
  std::string path_;
  bool writable_ = false;  // unseal() until seal()
};

}  // namespace dkb
