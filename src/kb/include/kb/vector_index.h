// kb::VectorIndex: k-nearest-neighbour search over chunk vectors, keyed by chunk id.
//
// ExactVectorIndex is the brute-force reference (exact results; O(n·dim) per query); an ANN
// index (hnswlib/FAISS) will implement the same interface. Indexes are in-memory caches
// rebuilt from the Store, which stays the source of truth.
// Scores are higher-is-better (see Metric). For kCosine, stored and query vectors are
// normalized internally; zero vectors score 0.
// Filtering: search() takes an optional allow-list of chunk ids (sorted ascending), checked
// during the scan so k results come back whenever k allowed vectors exist (no post-filtering).
// Errors: kInvalidArgument on a dimension mismatch.
// Thread-safety: const methods may run concurrently; add/remove need exclusive access
// (callers publish a new index or hold a lock).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "kb/types.h"

namespace dkb::kb {

struct VectorHit {
  int64_t id = 0;
  float score = 0;
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;
  virtual uint32_t dimension() const = 0;
  virtual Metric metric() const = 0;
  virtual size_t size() const = 0;
  // Inserts or replaces the vector of `id`.
  virtual Status add(int64_t id, std::span<const float> vector) = 0;
  virtual void remove(int64_t id) = 0;
  // Top-k by descending score; ties broken by ascending id. `allow` (sorted) restricts the
  // candidates when non-null.
  virtual Result<std::vector<VectorHit>> search(std::span<const float> query, size_t k,
                                                const std::vector<int64_t>* allow) const = 0;
};

class ExactVectorIndex final : public VectorIndex {
 public:
  ExactVectorIndex(uint32_t dimension, Metric metric) : dim_(dimension), metric_(metric) {}
  uint32_t dimension() const override { return dim_; }
  Metric metric() const override { return metric_; }
  size_t size() const override { return ids_.size(); }
  Status add(int64_t id, std::span<const float> vector) override;
  void remove(int64_t id) override;
  Result<std::vector<VectorHit>> search(std::span<const float> query, size_t k,
                                        const std::vector<int64_t>* allow) const override;

 private:
  float score(std::span<const float> q, size_t row) const;

  uint32_t dim_;
  Metric metric_;
  std::vector<int64_t> ids_;                 // row → id
  std::vector<float> data_;                  // [dim_, rows], row-major
  std::unordered_map<int64_t, size_t> row_;  // id → row
};

// Similarity of two equal-length vectors under `metric` (higher is better).
float similarity(std::span<const float> a, std::span<const float> b, Metric metric);

}  // namespace dkb::kb
