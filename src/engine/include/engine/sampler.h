// Sampler: turns logits into the next token, llama.cpp-style chain:
//   logit bias → penalties (repeat / frequency / presence over the last repeat_last_n tokens)
//   → top-k → top-p → min-p → temperature → random draw (seeded).
// temperature <= 0 means greedy (argmax after penalties).
//
// Determinism: the same params (seed included), the same logits and the same accepted tokens
// produce the same choices. Memory for candidates is allocated once per Sampler.
// Not thread-safe: one per sequence.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <utility>
#include <vector>

#include "base/status.h"

namespace dkb::engine {

struct SamplingParams {
  float temperature = 0.8f;
  int32_t top_k = 40;          // <= 0: disabled
  float top_p = 0.95f;         // >= 1: disabled
  float min_p = 0.05f;         // <= 0: disabled
  float repeat_penalty = 1.0f; // 1: disabled
  int32_t repeat_last_n = 64;  // window for all penalties; -1: whole history
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  uint64_t seed = 0xFFFFFFFFu; // 0xFFFFFFFF: seed from std::random_device
  // Added to a token's logit before everything else (OpenAI's logit_bias; -100 all but bans
  // it, +100 all but forces it). Ids outside the vocabulary are ignored.
  std::vector<std::pair<int32_t, float>> logit_bias;

  // Checks ranges; kInvalidArgument names the field.
  Status validate() const;
};

class Sampler {
 public:
  Sampler(const SamplingParams& params, int64_t n_vocab);

  // Chooses a token from logits [n_vocab] (not modified).
  int32_t sample(const float* logits);
  // Records a token of the history (prompt or generated) for the penalties.
  void accept(int32_t token);
  void reset();
  const SamplingParams& params() const { return params_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
    float p;
  };
  void apply_penalties(std::vector<Candidate>& c) const;

  SamplingParams params_;
  int64_t n_vocab_;
  std::mt19937_64 rng_;
  std::deque<int32_t> history_;
  std::vector<Candidate> cand_;
  std::vector<int32_t> counts_;
};

}  // namespace dkb::engine
