#include "kb/id_bitmap.h"

#include <algorithm>

namespace dkb::kb {

IdBitmap::IdBitmap(std::span<const int64_t> ids) {
  if (ids.empty()) return;
  auto [lo, hi] = std::minmax_element(ids.begin(), ids.end());
  lo_ = *lo & ~int64_t{63};  // word-aligned, so insert() can grow downwards by whole words
  bits_.assign(static_cast<size_t>((static_cast<uint64_t>(*hi) - static_cast<uint64_t>(lo_)) / 64 + 1), 0);
  for (int64_t id : ids) {
    uint64_t off = static_cast<uint64_t>(id) - static_cast<uint64_t>(lo_);
    bits_[off >> 6] |= uint64_t{1} << (off & 63);
  }
}

void IdBitmap::insert(int64_t id) {
  if (bits_.empty()) {
    lo_ = id & ~int64_t{63};
    bits_.assign(1, 0);
  } else if (id < lo_) {
    // Grow downwards by whole words so existing bit positions keep their word offsets.
    int64_t new_lo = id & ~int64_t{63};
    size_t extra = static_cast<size_t>((lo_ - new_lo) / 64);
    bits_.insert(bits_.begin(), extra, 0);
    lo_ = new_lo;
  }
  uint64_t off = static_cast<uint64_t>(id) - static_cast<uint64_t>(lo_);
  if ((off >> 6) >= bits_.size()) bits_.resize(std::max<size_t>((off >> 6) + 1, bits_.size() * 3 / 2), 0);
  bits_[off >> 6] |= uint64_t{1} << (off & 63);
}

void IdBitmap::erase(int64_t id) {
  uint64_t off = static_cast<uint64_t>(id) - static_cast<uint64_t>(lo_);
  if (off < bits_.size() * 64) bits_[off >> 6] &= ~(uint64_t{1} << (off & 63));
}

}  // namespace dkb::kb
