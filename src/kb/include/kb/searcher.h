// kb::Searcher: BM25, vector and hybrid (RRF) search over one Store.
//
// The metric comes from the collection's metadata key "hnsw:space" ("cosine", "ip", "l2"), as
// in Chroma, else the Searcher's default. Vector search uses one VectorIndex per collection
// (ExactVectorIndex for now), built from the Store on first use and rebuilt when
// Store::generation() shows the collection changed. Filters (`where`) are compiled to SQL: for BM25
// inside the FTS query, for vectors as an allow-list consulted during the index scan — never by
// trimming a top-k afterwards. Ownership: borrows the Store and the optional Embedder; both must
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
  Searcher(Store& store, Embedder* embedder, Metric metric = Metric::kCosine)
      : store_(store), embedder_(embedder), metric_(metric) {}

  Result<SearchResponse> search(std::string_view collection, const SearchRequest& request);

 private:
  struct CachedIndex {
    uint64_t generation = 0;
    std::shared_ptr<const VectorIndex> index;
  };
  Result<std::shared_ptr<const VectorIndex>> index_for(const Collection& coll);
  Result<Metric> metric_for(const Collection& coll) const;
  Result<std::vector<VectorHit>> vector_search(std::string_view collection, const Collection& coll,
                                               const SearchRequest& request, size_t k);

  Store& store_;
  Embedder* embedder_;
  Metric metric_;
  std::mutex mu_;
  std::map<std::string, CachedIndex, std::less<>> indexes_;
};

}  // namespace dkb::kb
