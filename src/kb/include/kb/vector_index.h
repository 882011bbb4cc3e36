// kb::VectorIndex: k-nearest-neighbour search over chunk vectors, keyed by chunk id.
//
// ExactVectorIndex is the brute-force reference (exact results; O(n·dim) per query) and the
// oracle for the ANN index (HnswVectorIndex, hnsw_index.h). Indexes are caches of the Store,
// which stays the source of truth.
// Scores are higher-is-better (see Metric). For kCosine, stored and query vectors are
// normalized internally; zero vectors score 0.
// Filtering: search() takes an IdFilter (an allow-list of chunk ids, sorted ascending, minus
// excluded sets), checked during the scan so k results come back whenever k allowed vectors
// exist (no post-filtering).
// Errors: kInvalidArgument on a dimension mismatch.
// Thread-safety: const methods may run concurrently; add/remove need exclusive access
// (callers publish a new index or hold a lock).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "kb/types.h"

namespace dkb::kb {

struct VectorHit {
  int64_t id = 0;
  float score = 0;
};

// Which ids a search may return: those in `allow` (sorted ascending; null = every id) and in
// none of the `exclude` sets. Borrowed pointers; they must outlive the search.
struct IdFilter {
  const std::vector<int64_t>* allow = nullptr;
  std::vector<const std::unordered_set<int64_t>*> exclude;
  bool accepts(int64_t id) const;
  bool excluded(int64_t id) const {
    for (const auto* e : exclude) {
      if (e->count(id) != 0) return true;
    }
    return false;
  }
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
  // Top-k by descending score among the ids `filter` accepts; ties broken by ascending id
  // (exact indexes; an ANN index returns approximately the top-k).
  virtual Result<std::vector<VectorHit>> search(std::span<const float> query, size_t k,
                                                const IdFilter& filter) const = 0;
  // Same with only an allow-list (sorted; null = all).
  Result<std::vector<VectorHit>> search(std::span<const float> query, size_t k,
                                        const std::vector<int64_t>* allow) const {
    IdFilter f;
    f.allow = allow;
    return search(query, k, f);
  }
  // Calls fn(id, stored vector) for every vector (cosine vectors as stored: normalized).
  virtual void for_each(const std::function<void(int64_t, std::span<const float>)>& fn) const = 0;
};

class ExactVectorIndex final : public VectorIndex {
 public:
  ExactVectorIndex(uint32_t dimension, Metric metric) : dim_(dimension), metric_(metric) {}
  uint32_t dimension() const override { return dim_; }
  Metric metric() const override { return metric_; }
  size_t size() const override { return ids_.size(); }
  Status add(int64_t id, std::span<const float> vector) override;
  void remove(int64_t id) override;
  using VectorIndex::search;
  Result<std::vector<VectorHit>> search(std::span<const float> query, size_t k,
                                        const IdFilter& filter) const override;
  void for_each(const std::function<void(int64_t, std::span<const float>)>& fn) const override;
  bool contains(int64_t id) const { return row_.count(id) != 0; }
  // Room for `n` vectors without reallocating (a bulk load would otherwise peak at twice the
  // data while its buffer doubles).
  void reserve(size_t n);

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

// Scales `v` to unit length (no-op for the zero vector).
void normalize_vector(std::span<float> v);

}  // namespace dkb::kb
