// Pieces shared by the generation routes of every API family: choosing a model, rendering
// a conversation with the model's chat template, and usage accounting.
#pragma once

#include <string>
#include <string_view>

#include "route_util.h"

namespace dkb::server {

// The generative model named by body["model"] (any model when absent); kNotFound otherwise.
Result<ModelEntry*> chat_model(App& app, const json& body);

// Validates OpenAI-style messages and returns them with content flattened to strings
// (content parts of type "text" are joined). kInvalidArgument names the bad message.
Result<json> normalize_messages(const json& messages);

struct RenderedPrompt {
  std::vector<int32_t> tokens;
  bool starts_in_think = false;  // the prompt ends inside an opened <think> block
};
// Renders messages with the model's template and tokenizes the result.
Result<RenderedPrompt> render_chat(const ModelEntry& m, const json& messages);
// True when a rendered prompt ends inside an opened "<think>" (R1's generation prompt).
bool ends_in_think(std::string_view rendered);
// Tokenizes a raw prompt (BOS added as the model wants).
std::vector<int32_t> tokenize_prompt(const ModelEntry& m, const std::string& prompt);

// A finished generation with DeepSeek-R1's <think> reasoning split from the answer.
struct SplitAnswer {
  engine::GenerationEvent done;
  std::string reasoning;
  std::string content;
};
// Runs req to completion (non-streaming) and records its metrics.
Result<SplitAnswer> generate_split(App& app, engine::Scheduler& sched, engine::GenerationRequest req,
                                   bool starts_in_think);

// OpenAI usage object with DeepSeek's cache fields.
json usage_json(const engine::GenerationEvent& done);
void record_metrics(App& app, const engine::GenerationEvent& done);

std::string random_id(const char* prefix);
int64_t unix_now();

}  // namespace dkb::server
