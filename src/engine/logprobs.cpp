#include "engine/logprobs.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dkb::engine {

TokenLogprob compute_logprobs(const float* logits, int64_t n_vocab, int32_t chosen, int top_n) {
  float mx = *std::max_element(logits, logits + n_vocab);
  double sum = 0;
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  const double log_z = mx + std::log(sum);
  TokenLogprob out;
  out.token = chosen;
  out.logprob = static_cast<float>(logits[chosen] - log_z);
  top_n = std::clamp(top_n, 0, static_cast<int>(std::min<int64_t>(20, n_vocab)));
  if (top_n > 0) {
    std::vector<int32_t> idx(static_cast<size_t>(n_vocab));
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + top_n, idx.end(),
                      [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    for (int i = 0; i < top_n; ++i) out.top.emplace_back(idx[i], static_cast<float>(logits[idx[i]] - log_z));
  }
  return out;
}

}  // namespace dkb::engine
