#include "kb/searcher.h"

#include <algorithm>
#include <unordered_map>

#include "kb/fusion.h"

namespace dkb::kb {

Searcher::Searcher(Store& store, Embedder* embedder, Metric metric, IndexManager* indexes)
    : store_(store), embedder_(embedder), metric_(metric), indexes_(indexes) {
  if (indexes_ == nullptr) {
    owned_indexes_ = std::make_unique<IndexManager>(store, IndexManagerOptions{});
    indexes_ = owned_indexes_.get();
  }
}

Result<Metric> Searcher::metric_for(const Collection& coll) const {
  auto it = coll.metadata.find("hnsw:space");
  if (it == coll.metadata.end()) return metric_;
  std::string space = it->is_string() ? it->get<std::string>() : it->dump();
  if (space == "cosine") return Metric::kCosine;
  if (space == "ip") return Metric::kInnerProduct;
  if (space == "l2") return Metric::kL2;
  return invalid_argument("collection " + coll.name + ": unknown hnsw:space '" + space +
                          "' (cosine, ip, l2)");
}

Result<std::vector<VectorHit>> Searcher::vector_search(std::string_view collection,
                                                       const Collection& coll,
                                                       const SearchRequest& request, size_t k) {
  std::vector<float> query = request.vector;
  if (query.empty()) {
    if (embedder_ == nullptr) {
      return invalid_argument("vector search needs a query vector or an embedding model");
    }
    std::vector<std::string> texts{request.text};
    DKB_ASSIGN_OR_RETURN(auto vecs, embedder_->embed(texts));
    if (vecs.size() != 1) return internal_error("embedder returned the wrong number of vectors");
    query = std::move(vecs[0]);
  }
  if (query.size() != coll.dimension) {
    return invalid_argument("query vector dimension " + std::to_string(query.size()) +
                            " does not match collection " + coll.name + " (dimension " +
                            std::to_string(coll.dimension) + ")");
  }
  DKB_ASSIGN_OR_RETURN(Metric metric, metric_for(coll));
  std::optional<std::vector<int64_t>> allow;
  if (!request.where.is_null() || !request.where_document.is_null()) {
    DKB_ASSIGN_OR_RETURN(
        allow, store_.filter_chunk_ids(collection, request.where, request.where_document));
  }
  return indexes_->search(coll, metric, query, k, allow ? &*allow : nullptr);
}

Result<SearchResponse> Searcher::search(std::string_view collection, const SearchRequest& request) {
  DKB_ASSIGN_OR_RETURN(Collection coll, store_.get_collection(collection));
  SearchResponse resp;
  TextQuery tq;
  tq.text = request.text;
  tq.where = request.where;
  tq.where_document = request.where_document;
  tq.k = request.k;

  if (request.mode == SearchMode::kBm25) {
    DKB_ASSIGN_OR_RETURN(resp.hits, store_.text_search(collection, tq));
    return resp;
  }
  bool can_vector = coll.dimension != 0 && (!request.vector.empty() || embedder_ != nullptr);
  if (request.mode == SearchMode::kVector) {
    if (coll.dimension == 0) {
      return failed_precondition("collection " + coll.name + " has no embeddings");
    }
    DKB_ASSIGN_OR_RETURN(auto vhits, vector_search(collection, coll, request, request.k));
    std::vector<int64_t> ids;
    for (const auto& h : vhits) ids.push_back(h.id);
    DKB_ASSIGN_OR_RETURN(resp.hits, store_.get_hits(ids));
    std::unordered_map<int64_t, float> score;
    for (const auto& h : vhits) score[h.id] = h.score;
    for (auto& h : resp.hits) h.score = score[h.chunk_id];
    resp.vector_used = true;
    return resp;
  }

  // Hybrid: both lists to `depth`, fused by reciprocal rank.
  size_t depth = request.candidates ? request.candidates : std::max<size_t>(request.k * 4, 50);
  tq.k = depth;
  DKB_ASSIGN_OR_RETURN(auto text_hits, store_.text_search(collection, tq));
  std::vector<RankedList> lists(1);
  lists[0].weight = request.bm25_weight;
  std::unordered_map<int64_t, std::string> highlights;
  for (const auto& h : text_hits) {
    lists[0].ids.push_back(h.chunk_id);
    highlights.emplace(h.chunk_id, h.highlighted);
  }
  if (can_vector) {
    DKB_ASSIGN_OR_RETURN(auto vhits, vector_search(collection, coll, request, depth));
    RankedList v;
    v.weight = request.vector_weight;
    for (const auto& h : vhits) v.ids.push_back(h.id);
    lists.push_back(std::move(v));
    resp.vector_used = true;
  }
  auto fused = reciprocal_rank_fusion(lists, request.rrf_k);
  if (fused.size() > request.k) fused.resize(request.k);
  std::vector<int64_t> ids;
  for (const auto& f : fused) ids.push_back(f.id);
  DKB_ASSIGN_OR_RETURN(resp.hits, store_.get_hits(ids));
  std::unordered_map<int64_t, double> score;
  for (const auto& f : fused) score[f.id] = f.score;
  for (auto& h : resp.hits) {
    h.score = score[h.chunk_id];
    auto it = highlights.find(h.chunk_id);
    if (it != highlights.end()) h.highlighted = it->second;
  }
  return resp;
}

}  // namespace dkb::kb
