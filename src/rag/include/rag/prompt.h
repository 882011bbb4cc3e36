// RAG prompt assembly: numbered sources, ordered by relevance, trimmed to a token budget,
// rendered with the model's own chat template.
//
// Budget: the context holds the rendered prompt plus max_tokens of answer; sources are added
// whole, in relevance order, while the rendered prompt still fits — a source that would not
// fit is dropped (never cut, so no chunk or UTF-8 character is ever split) and later, shorter
// ones are still tried. The response reports how many were used and dropped.
// Thread-safety: pure functions of their arguments.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "kb/types.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace dkb::rag {

struct Source {
  int n = 0;                 // [n] as the prompt numbers it (1-based)
  kb::SearchHit hit;
  std::string title;         // document title, when known
  bool reranked = false;     // hit.score is a rerank score (rag/rerank.h)
  double retrieval_score = 0;  // the search's score, when reranked
};

struct BuiltPrompt {
  nlohmann::json messages;           // system (instructions + sources) and the conversation
  std::string rendered;              // the chat template's output
  std::vector<int32_t> tokens;       // rendered, tokenized (what the model sees)
  std::vector<Source> used;          // numbered 1..used.size()
  std::vector<kb::SearchHit> dropped;
};

struct PromptOptions {
  int64_t n_ctx = 0;        // the model's context
  int64_t max_tokens = 512; // reserved for the answer
};

// The system instruction that precedes the sources.
extern const char* const kInstruction;

// Formats one numbered source block: "[n] Title › Heading\ntext".
std::string format_source(int n, const Source& s);

// Builds the prompt for `conversation` (OpenAI-style messages; the last is the user's
// question) with as many hits as fit. kInvalidArgument when even the prompt without sources
// does not fit (both numbers in the message).
Result<BuiltPrompt> build_prompt(const nlohmann::json& conversation,
                                 const std::vector<Source>& candidates,
                                 const tokenizer::Tokenizer& tok,
                                 const tokenizer::ChatTemplate& tmpl, const PromptOptions& opt);

// Citation numbers [n] that appear in answer and name a used source, in order of first use.
std::vector<int> cited_numbers(const std::string& answer, size_t n_sources);

}  // namespace dkb::rag
