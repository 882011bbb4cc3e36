// Retrieval-augmented generation shared by POST /v1/kb/{kb}/ask and chat completions with a
// `knowledge_base` field: search → numbered sources within the token budget → citations.
#pragma once

#include <string>

#include "rag/prompt.h"
#include "route_util.h"

namespace dkb::server {

inline constexpr const char* kNothingFound =
    "The knowledge base does not contain information about this question.";

struct RagQuery {
  std::string text;            // the standalone search query
  int64_t top_k = 5;
  std::string mode = "hybrid"; // hybrid | vector | bm25
  json filter;                 // Chroma-style `where` on chunk metadata; null = none
  bool rerank = false;         // rerank retrieved candidates (App::reranker) before assembly
  int64_t rerank_candidates = 0;  // how many to retrieve for reranking; 0 = 4 × top_k
};

// Reads the shared RAG request fields (top_k, search, filter, rerank, rerank_candidates) of
// an ask body or a chat `knowledge_base` object. kInvalidArgument names the bad field.
Result<RagQuery> read_rag_fields(const json& obj);

struct RagPlan {
  bool nothing_found = false;  // retrieval returned nothing: answer kNothingFound, no generation
  rag::BuiltPrompt prompt;
  json sources;                // the numbered sources given to the model
};

// kNotFound for an unknown knowledge base, kInvalidArgument for a bad filter/mode or a
// conversation that cannot fit the context, kFailedPrecondition for rerank without an
// embedding model.
Result<RagPlan> prepare_rag(App& app, ModelEntry& m, const std::string& kb_name,
                            const RagQuery& q, const json& conversation, int64_t max_tokens);
// The sources the answer cites as [n], in order of first use.
json cited_sources(const RagPlan& plan, const std::string& answer);
json source_json(const rag::Source& s);

}  // namespace dkb::server
