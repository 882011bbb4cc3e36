// Private to the scheduler's .cpp files: a request's generation state (Seq) and a running
// slot (Slot). Scheduler thread only.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "engine/context.h"
#include "engine/scheduler.h"
#include "engine/text_stream.h"

namespace dkb::engine {

using Clock = std::chrono::steady_clock;

// A request's generation state; survives preemption (its KV does not).
struct Scheduler::Seq {
  GenerationRequest req;
  // Tokens whose K/V the sequence needs, position by position: the prompt, then every
  // sampled token once it is evaluated. Prefill runs until the context holds all of them.
  std::vector<int32_t> tokens;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<TextStream> stream;
  bool admitted_before = false;
  int64_t n_cached = 0;            // prompt tokens reused at the first admission
  std::vector<TokenLogprob> pending_logprobs;  // not yet attached to a text event
  GenerateResult result;
  Clock::time_point first_token;
  bool got_first = false;
};

struct Scheduler::Slot {
  std::unique_ptr<Context> ctx;    // pages in the scheduler's pool
  std::unique_ptr<Seq> seq;        // null: free
  uint64_t admitted = 0;           // admission order (larger: younger)
  int32_t next_token = 0;          // sampled, to be evaluated this step
  bool has_next = false;
  bool prefilling() const { return ctx->n_past() < static_cast<int64_t>(seq->tokens.size()); }
};

}  // namespace dkb::engine
