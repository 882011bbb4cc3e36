// kb::Searcher: BM25, vector and hybrid (RRF) search over one Store.
//
// The metric comes from the collection's metadata key "hnsw:space" ("cosine", "ip", "l2"), as
// in Chroma, else the Searcher's default. Vector search uses one VectorIndex per collection
// through an IndexManager (index_manager.h: exact for small collections, HNSW above, kept
// current from the store's change events, persisted when the manager has a directory). Filters (`where`) are compiled to SQL: for BM25
// inside the FTS query, for vectors as an allow-list consulted during the index search — never
// by trimming a top-k afterwards. Ownership: borrows the Store, the optional Embedder and the
// optional IndexManager (without one the Searcher owns a memory-only manager); all must
// outlive the Searcher. Thread-safety: search() may be called concurrently (index cache guarded by
// a mutex). Errors: kNotFound (collection), kInvalidArgument (filter, dimension, missing query
// vector for vector mode without an embedder), kFailedPrecondition (vector mode on a collection
// without vectors).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kb/embedder.h"
#include "kb/index_manager.h"
#include "kb/store.h"
#include "kb/vector_index.h"

namespace dkb::kb {

enum class SearchMode { kBm25, kVector, kHybrid };

struct SearchRequest {
  std::string text;           // query text (BM25, and embedded for vector search)
  std::vector<float> vector;  // optional precomputed query embedding
  size_t k = 10;
  SearchMode mode = SearchMode::kHybrid;
  Json where;           // Chroma metadata filter; null = none
  Json where_document;  // Chroma document-text filter; null = none
  double rrf_k = 60.0;
  double bm25_weight = 1.0;
  double vector_weight = 1.0;
  size_t candidates = 0;  // per-list depth for hybrid; 0 = max(4k, 50)
};

struct SearchResponse {
  std::vector<SearchHit> hits;  // best first; score per mode: -bm25, similarity, or RRF
  bool vector_used = false;     // false when hybrid fell back to BM25 only (no embeddings)
};

class Searcher {
 public:
  Searcher(Store& store, Embedder* embedder, Metric metric = Metric::kCosine,
           IndexManager* indexes = nullptr);

  Result<SearchResponse> search(std::string_view collection, const SearchRequest& request);
  // The metric a collection is searched with (its "hnsw:space", else the default).
  Result<Metric> metric_for(const Collection& coll) const;
  IndexManager& indexes() { return *indexes_; }

 private:
  Result<std::vector<VectorHit>> vector_search(std::string_view collection, const Collection& coll,
                                               const SearchRequest& request, size_t k);

  Store& store_;
  Embedder* embedder_;
  Metric metric_;
  std::unique_ptr<IndexManager> owned_indexes_;
  IndexManager* indexes_;
};

}  // namespace dkb::kb
