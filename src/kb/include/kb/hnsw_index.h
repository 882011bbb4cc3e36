// HnswVectorIndex: approximate k-nearest-neighbour search over chunk vectors with hnswlib
// (Debian libhnswlib-dev 0.6, header-only HNSW graph), behind the kb::VectorIndex interface.
//
// Metrics: kCosine stores unit-normalized vectors in hnswlib's inner-product space (score =
// cosine similarity), kInnerProduct uses the inner-product space as is (score = dot product),
// kL2 uses the L2 space (score = −squared distance) — the same scores as ExactVectorIndex.
// Deletes mark the slot deleted (hnswlib markDelete); it stays in the graph for navigation
// until the owner rebuilds (deleted_slots() tells when). Adding an existing id updates its
// vector in place (hnswlib updatePoint).
// Filters are applied inside the graph walk: only accepted, live ids enter the result heap,
// while every node still serves as a stepping stone (the technique of hnswlib 0.7's filter
// functor, which Debian's 0.6 lacks): the beam counts accepted nodes only (widened further
// up to `max_filter_widening`); an allow-list smaller than `exact_below_count` or `exact_below_fraction` of the index is
// searched exactly, and a filtered walk that finds fewer than k hits falls back to exact — so
// filtered results are never silently short.
// Persistence: save()/load() use the index file of index_file.h (our header + checksum around
// hnswlib's graph layout).
// Thread-safety: const methods (search, save, for_each) may run concurrently with each other;
// add/remove/set_ef need exclusive access.
// Errors: kInvalidArgument (dimension mismatch), kResourceExhausted (allocation failure),
// kCorruption/kIOError/kNotFound from load().
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kb/index_file.h"
#include "kb/vector_index.h"

namespace dkb::kb {

struct HnswParams {
  size_t m = 16;                 // graph degree (level 0 gets 2m)
  size_t ef_construction = 100;  // beam width while inserting
  size_t ef_search = 128;        // beam width while searching (at least k); at 1M × 768
                                 // recall@10 is 0.90 with 64, 0.96 with 128 (bench/README)
  size_t seed = 100;             // level generator seed: builds are reproducible
  size_t exact_below_count = 2000;     // allow-lists at most this long are searched exactly
  double exact_below_fraction = 0.02;  // … and those below this fraction of the index
  // A filtered walk's beam is ef_search × min(this, live / allowed) accepted nodes. Counting
  // only accepted nodes already makes it explore 1/selectivity times the nodes of an
  // unfiltered walk; widening on top bought little recall for its cost at 1M (bench/README:
  // 10% filter, ef 128: ×1 → 0.988 in 10 ms, ×16 → 0.995 in 67 ms).
  double max_filter_widening = 1.0;
};

class HnswVectorIndex final : public VectorIndex {
 public:
  HnswVectorIndex(uint32_t dimension, Metric metric, const HnswParams& params = {},
                  size_t capacity = 1024);
  ~HnswVectorIndex() override;
  HnswVectorIndex(const HnswVectorIndex&) = delete;
  HnswVectorIndex& operator=(const HnswVectorIndex&) = delete;

  uint32_t dimension() const override { return dim_; }
  Metric metric() const override { return metric_; }
  size_t size() const override;  // live vectors
  Status add(int64_t id, std::span<const float> vector) override;
  // Adds ids[i] → rows [i·dim, (i+1)·dim) of `data` on `n_threads` threads (hnswlib inserts
  // concurrently); for bulk builds. Needs exclusive access like add().
  Status add_batch(std::span<const int64_t> ids, std::span<const float> data, size_t n_threads);
  void remove(int64_t id) override;
  using VectorIndex::search;
  Result<std::vector<VectorHit>> search(std::span<const float> query, size_t k,
                                        const IdFilter& filter) const override;
  void for_each(const std::function<void(int64_t, std::span<const float>)>& fn) const override;

  bool contains(int64_t id) const;  // live
  size_t deleted_slots() const;     // marked-deleted slots still in the graph
  const HnswParams& params() const { return params_; }
  // Changes the search-time parameters (ef_search also for raw_knn). Needs exclusive access
  // like add(); for benchmarks sweeping recall against latency on one built graph.
  void set_search_params(size_t ef_search, double max_filter_widening);

  // The library's own unfiltered searchKnn on a query already in index form (normalized for
  // cosine), best first as (score, id). For benchmarks: the baseline the API path is held to.
  std::vector<std::pair<float, int64_t>> raw_knn(std::span<const float> query, size_t k) const;

  // Writes the index durably to `path` (index_file.h) recording `generation` and
  // `collection_id`.
  Status save(const std::string& path, uint64_t generation, int64_t collection_id) const;
  // Loads an index written by save(); validates the checksum and the graph's structure.
  static Result<std::unique_ptr<HnswVectorIndex>> load(const std::string& path,
                                                       const HnswParams& params,
                                                       IndexFileHeader* header = nullptr);

 private:
  struct Impl;
  Result<std::vector<VectorHit>> exact_search(std::span<const float> q, size_t k,
                                              const IdFilter& filter) const;

  uint32_t dim_;
  Metric metric_;
  HnswParams params_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dkb::kb
