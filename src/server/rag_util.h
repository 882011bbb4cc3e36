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
};

struct RagPlan {
  bool nothing_found = false;  // retrieval returned nothing: answer kNothingFound, no generation
  rag::BuiltPrompt prompt;
  json sources;                // the numbered sources given to the model
};

// kNotFound for an unknown knowledge base, kInvalidArgument for a bad filter/mode or a
// conversation that cannot fit the context.
Result<RagPlan> prepare_rag(App& app, ModelEntry& m, const std::string& kb_name,
                            const RagQuery& q, const json& conversation, int64_t max_tokens);
// The sources the answer cites as [n], in order of first use.
json cited_sources(const RagPlan& plan, const std::string& answer);
json source_json(const rag::Source& s);

}  // namespace dkb::server
