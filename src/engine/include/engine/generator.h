// generate(): the decode loop for one sequence — evaluate the prompt, then sample, stream and
// evaluate one token at a time until EOS/end-of-generation, a stop string, max_tokens, the
// context limit or cancellation.
//
// Streaming: on_text receives text as it becomes final — never half a UTF-8 character and
// never a prefix of a stop string that might still complete; the stop string itself is not
// emitted. Returning false from on_text cancels.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/context.h"
#include "engine/logprobs.h"
#include "engine/sampler.h"

namespace dkb::engine {

struct GenerateParams {
  int32_t max_tokens = 256;         // -1: until EOS or the context is full
  std::vector<std::string> stop;    // stop strings
  SamplingParams sampling;
  bool ignore_eos = false;
  const std::atomic<bool>* cancel = nullptr;
  int32_t logprobs = -1;            // -1: none; k >= 0: each token's logprob and k alternatives
};

enum class FinishReason { kStop, kLength, kCancelled };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "cancelled"

struct GenerateResult {
  std::string text;
  std::vector<int32_t> tokens;      // generated tokens (including a final EOS if any)
  FinishReason finish = FinishReason::kStop;
  int64_t n_prompt = 0;
  int64_t n_generated = 0;
  double prompt_ms = 0;
  double generate_ms = 0;
  std::vector<TokenLogprob> logprobs;  // one per generated token when requested
};

// Evaluates prompt (appended to ctx's current position) and generates.
Result<GenerateResult> generate(Context& ctx, const std::vector<int32_t>& prompt,
                                const GenerateParams& params,
                                const std::function<bool(const std::string&)>& on_text = {});

}  // namespace dkb::engine
