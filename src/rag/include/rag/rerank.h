// Rerank stage: reorders retrieved candidates by a second, usually more precise, relevance
// model before prompt assembly.
//
// `Reranker` is the interface a cross-encoder (query and passage scored together) can plug
// into later. `EmbeddingReranker` is the implementation available today: it scores each
// candidate by the cosine similarity of its text's embedding to the query's, through
// kb::Embedder — useful when retrieval was lexical (bm25) or the vector index approximate.
//
// Contract: score() returns one score per candidate, in candidate order, higher = more
// relevant, or an error for the whole call. Implementations must be safe to call from
// several threads at once (the embedder's contract). rerank() is a pure function of the
// scores: it sorts by descending score (ties keep retrieval order), keeps the best top_k,
// sets hit.score to the rerank score and keeps the retrieval score in retrieval_score.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "kb/embedder.h"
#include "rag/prompt.h"

namespace dkb::rag {

class Reranker {
 public:
  virtual ~Reranker() = default;
  virtual std::string_view name() const = 0;
  virtual Result<std::vector<double>> score(std::string_view query,
                                            std::span<const Source> candidates) = 0;
};

// Reorders `candidates` by `reranker`'s scores and keeps at most top_k of them.
Result<std::vector<Source>> rerank(Reranker& reranker, std::string_view query,
                                   std::vector<Source> candidates, size_t top_k);

class EmbeddingReranker : public Reranker {
 public:
  // `embedder` is not owned and must outlive this object.
  explicit EmbeddingReranker(kb::Embedder& embedder) : embedder_(embedder) {}
  std::string_view name() const override { return "embedding-cosine"; }
  Result<std::vector<double>> score(std::string_view query,
                                    std::span<const Source> candidates) override;

 private:
  kb::Embedder& embedder_;
};

}  // namespace dkb::rag
