// Log-probabilities of generated tokens, as the OpenAI API reports them: the model's own
// distribution (log-softmax of the raw logits, before penalties/temperature/truncation).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace dkb::engine {

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // most likely tokens, best first
};

// logits: [n_vocab]. top_n: how many alternatives (0..20).
TokenLogprob compute_logprobs(const float* logits, int64_t n_vocab, int32_t chosen, int top_n);

}  // namespace dkb::engine
