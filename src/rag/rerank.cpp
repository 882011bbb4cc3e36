#include "rag/rerank.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dkb::rag {

namespace {

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 0.0;
}

}  // namespace

Result<std::vector<Source>> rerank(Reranker& reranker, std::string_view query,
                                   std::vector<Source> candidates, size_t top_k) {
  DKB_ASSIGN_OR_RETURN(std::vector<double> scores, reranker.score(query, candidates));
  if (scores.size() != candidates.size()) {
    return internal_error(std::string(reranker.name()) + " returned " + std::to_string(scores.size()) +
                          " scores for " + std::to_string(candidates.size()) + " candidates");
  }
  std::vector<size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  std::vector<Source> out;
  for (size_t i = 0; i < order.size() && out.size() < top_k; ++i) {
    Source s = std::move(candidates[order[i]]);
    s.retrieval_score = s.hit.score;
    s.hit.score = scores[order[i]];
    s.reranked = true;
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<double>> EmbeddingReranker::score(std::string_view query,
                                                     std::span<const Source> candidates) {
  std::vector<double> out;
  out.reserve(candidates.size());
  const std::string q(query);
  DKB_ASSIGN_OR_RETURN(auto qv, embedder_.embed(std::span<const std::string>(&q, 1)));
  if (qv.size() != 1) return internal_error("the embedder returned no vector for the query");
  const size_t batch = std::max<size_t>(1, embedder_.max_batch());
  std::vector<std::string> texts;
  for (size_t start = 0; start < candidates.size(); start += batch) {
    texts.clear();
    for (size_t i = start; i < std::min(candidates.size(), start + batch); ++i) texts.push_back(candidates[i].hit.text);
    DKB_ASSIGN_OR_RETURN(auto vs, embedder_.embed(texts));
    if (vs.size() != texts.size()) return internal_error("the embedder returned a short batch");
    for (const auto& v : vs) out.push_back(cosine(qv[0], v));
  }
  return out;
}

}  // namespace dkb::rag
