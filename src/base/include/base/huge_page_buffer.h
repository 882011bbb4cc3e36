// HugePageBuffer: anonymous memory on transparent huge pages (RAII).
//
// allocate(n) maps n bytes rounded up to 2 MiB, starting on a 2 MiB boundary, and advises
// MADV_HUGEPAGE before any page is touched, so the kernel backs it with 2 MiB pages when its
// THP mode is "always" or "madvise" (available()). Memory that is streamed end to end (model
// weights in decode, the bandwidth probe) then takes ~1/512 of the TLB misses of 4 KiB pages.
// The bytes start zeroed.
//
// Ownership: owns the mapping; movable, not copyable. Thread-safety: none of its own.
// Errors: allocate() returns kIOError ("cannot allocate N bytes: <errno text>").
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.h"

namespace dkb {

class HugePageBuffer {
 public:
  static constexpr size_t kPageBytes = size_t{2} << 20;

  HugePageBuffer() = default;
  ~HugePageBuffer();
  HugePageBuffer(HugePageBuffer&& other) noexcept;
  HugePageBuffer& operator=(HugePageBuffer&& other) noexcept;
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;

  static Result<HugePageBuffer> allocate(size_t n);
  // Whether the kernel's THP mode ("always" or "madvise") backs MADV_HUGEPAGE regions with
  // huge pages; where it does not, allocate() still works, on 4 KiB pages.
  static bool available();

  uint8_t* data() const { return data_; }
  // The mapped length: the requested size rounded up to kPageBytes.
  size_t size() const { return size_; }
  // Makes the whole buffer read-only (writes fault); for data that is final.
  void protect_read_only();
  // Makes it writable again (e.g. to rewrite a loaded file's bytes in place before sharing).
  void unprotect();

 private:
  void reset();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace dkb
