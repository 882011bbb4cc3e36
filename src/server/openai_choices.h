// OpenAI's n > 1 (several choices of one request): the per-choice requests, their summed
// usage, and streaming them as SSE chunks that carry choices[].index (openai_choices.cpp).
#pragma once

#include <string>
#include <vector>

#include "route_util.h"

namespace dkb::server {

// n copies of gr; with a fixed seed, choice i samples with seed + i so choices differ.
std::vector<engine::GenerationRequest> choice_requests(const engine::GenerationRequest& gr, int n);
// Usage of all choices: the prompt once, completion tokens summed.
json summed_usage(const std::vector<engine::GenerationEvent>& evs);

struct ChunkHeader {
  std::string id;       // "chatcmpl-…" / "cmpl-…"
  int64_t created = 0;  // unix seconds
  std::string model;
};

// Streams n chat choices as chat.completion.chunk SSE events: a role chunk per choice, then
// content / reasoning_content deltas with choices[0].index = the choice, a finish chunk per
// choice as it ends, one usage chunk over all choices (include_usage), then [DONE].
// sources (may be null): a RAG plan's sources, sent in the first chunk.
void stream_chat_choices(App& app, ModelEntry& m, const engine::GenerationRequest& gr, int n,
                         bool starts_in_think, const ChunkHeader& h, bool include_usage,
                         const json& sources, http::Responder& resp);
// The same for /v1/completions (text_completion chunks with choices[0].index).
void stream_completion_choices(App& app, ModelEntry& m, const engine::GenerationRequest& gr, int n,
                               const ChunkHeader& h, bool include_usage, http::Responder& resp);

}  // namespace dkb::server
