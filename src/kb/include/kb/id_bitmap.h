// kb::IdBitmap: a set of chunk ids as a bitmap over the range the ids span — O(1)
// membership for filters checked per candidate (full-text matches, HNSW neighbours).
// Memory: one bit per id between the smallest and the largest (rounded to 64).
// Thread-safety: const methods concurrently; mutation needs exclusive access.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace dkb::kb {

class IdBitmap {
 public:
  IdBitmap() = default;
  explicit IdBitmap(std::span<const int64_t> ids);
  bool contains(int64_t id) const {
    uint64_t off = static_cast<uint64_t>(id) - static_cast<uint64_t>(lo_);
    return off < bits_.size() * 64 && ((bits_[off >> 6] >> (off & 63)) & 1) != 0;
  }
  void insert(int64_t id);
  void erase(int64_t id);

 private:
  int64_t lo_ = 0;
  std::vector<uint64_t> bits_;
};

}  // namespace dkb::kb
