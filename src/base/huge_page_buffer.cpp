#include "base/huge_page_buffer.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

namespace dkb {

HugePageBuffer::~HugePageBuffer() { reset(); }

HugePageBuffer::HugePageBuffer(HugePageBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void HugePageBuffer::reset() {
  if (data_ != nullptr) munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

Result<HugePageBuffer> HugePageBuffer::allocate(size_t n) {
  const size_t len = (std::max<size_t>(n, 1) + kPageBytes - 1) / kPageBytes * kPageBytes;
  // Over-allocate by one huge page, then trim both ends to a 2 MiB-aligned range.
  void* p = mmap(nullptr, len + kPageBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED) {
    return io_error("cannot allocate " + std::to_string(len) + " bytes: " + std::strerror(errno));
  }
  const auto base = reinterpret_cast<uintptr_t>(p);
  const uintptr_t aligned = (base + kPageBytes - 1) / kPageBytes * kPageBytes;
  if (aligned > base) munmap(p, aligned - base);
  const uintptr_t end = base + len + kPageBytes;
  if (end > aligned + len) munmap(reinterpret_cast<void*>(aligned + len), end - (aligned + len));
  madvise(reinterpret_cast<void*>(aligned), len, MADV_HUGEPAGE);
  HugePageBuffer b;
  b.data_ = reinterpret_cast<uint8_t*>(aligned);
  b.size_ = len;
  return b;
}

bool HugePageBuffer::available() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(in, mode);
  return mode.find("[always]") != std::string::npos || mode.find("[madvise]") != std::string::npos;
}

void HugePageBuffer::protect_read_only() {
  if (data_ != nullptr) mprotect(data_, size_, PROT_READ);
}

void HugePageBuffer::unprotect() {
  if (data_ != nullptr) mprotect(data_, size_, PROT_READ | PROT_WRITE);
}

}  // namespace dkb
