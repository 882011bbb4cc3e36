#include "engine/sampler.h"

#include <algorithm>
#include <cmath>

namespace dkb::engine {

Status SamplingParams::validate() const {
  if (!std::isfinite(temperature) || temperature < 0 || temperature > 100)
    return invalid_argument("temperature must be in [0, 100]");
  if (!(top_p > 0) || top_p > 1) return invalid_argument("top_p must be in (0, 1]");
  if (min_p < 0 || min_p > 1) return invalid_argument("min_p must be in [0, 1]");
  if (!(repeat_penalty > 0) || repeat_penalty > 100)
    return invalid_argument("repeat_penalty must be in (0, 100]");
  if (repeat_last_n < -1) return invalid_argument("repeat_last_n must be >= -1");
  if (std::fabs(frequency_penalty) > 2) return invalid_argument("frequency_penalty must be in [-2, 2]");
  if (std::fabs(presence_penalty) > 2) return invalid_argument("presence_penalty must be in [-2, 2]");
  for (const auto& [id, bias] : logit_bias) {
    if (id < 0 || !std::isfinite(bias) || std::fabs(bias) > 100)
      return invalid_argument("logit_bias needs token ids >= 0 and biases in [-100, 100]");
  }
  return Status::ok();
}

Sampler::Sampler(const SamplingParams& params, int64_t n_vocab)
    : params_(params), n_vocab_(n_vocab) {
  uint64_t seed = params.seed;
  if (seed == 0xFFFFFFFFu) seed = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  rng_.seed(seed);
  cand_.reserve(static_cast<size_t>(n_vocab));
  counts_.assign(static_cast<size_t>(n_vocab), 0);
}

void Sampler::reset() {
  history_.clear();
  std::fill(counts_.begin(), counts_.end(), 0);
}

void Sampler::accept(int32_t token) {
  if (token < 0 || token >= n_vocab_) return;
  history_.push_back(token);
  ++counts_[token];
  if (params_.repeat_last_n >= 0 && history_.size() > static_cast<size_t>(params_.repeat_last_n)) {
    --counts_[history_.front()];
    history_.pop_front();
  }
}

void Sampler::apply_penalties(std::vector<Candidate>& c) const {
  bool any = params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
             params_.presence_penalty != 0.0f;
  if (!any || history_.empty()) return;
  for (Candidate& x : c) {
    int32_t n = counts_[x.id];
    if (n == 0) continue;
    // As llama.cpp: divide positive logits, multiply negative ones.
    if (x.logit <= 0) x.logit *= params_.repeat_penalty;
    else x.logit /= params_.repeat_penalty;
    x.logit -= static_cast<float>(n) * params_.frequency_penalty + params_.presence_penalty;
  }
}

int32_t Sampler::sample(const float* logits) {
  cand_.clear();
  for (int32_t i = 0; i < n_vocab_; ++i) cand_.push_back({i, logits[i], 0.0f});
  for (const auto& [id, bias] : params_.logit_bias) {
    if (id >= 0 && id < n_vocab_) cand_[static_cast<size_t>(id)].logit += bias;
  }
  apply_penalties(cand_);

  if (params_.temperature <= 0.0f) {
    auto best = std::max_element(cand_.begin(), cand_.end(), [](const Candidate& a, const Candidate& b) {
      return a.logit < b.logit || (a.logit == b.logit && a.id > b.id);
    });
    return best->id;
  }

  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  size_t n = cand_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    std::partial_sort(cand_.begin(), cand_.begin() + params_.top_k, cand_.end(), by_logit);
    n = static_cast<size_t>(params_.top_k);
  } else {
    std::sort(cand_.begin(), cand_.end(), by_logit);
  }
  cand_.resize(n);

  auto softmax = [&](float temp) {
    float mx = cand_[0].logit;
    double sum = 0;
    for (Candidate& c : cand_) {
      c.p = std::exp((c.logit - mx) / temp);
      sum += c.p;
    }
    for (Candidate& c : cand_) c.p = static_cast<float>(c.p / sum);
  };

  if (params_.top_p < 1.0f) {
    softmax(1.0f);
    double cum = 0;
    size_t keep = cand_.size();
    for (size_t i = 0; i < cand_.size(); ++i) {
      cum += cand_[i].p;
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
    cand_.resize(keep);
  }
  if (params_.min_p > 0.0f) {
    // Keep tokens whose probability is at least min_p times the top one's.
    float threshold = cand_[0].logit + std::log(params_.min_p);
    size_t keep = 1;
    while (keep < cand_.size() && cand_[keep].logit >= threshold) ++keep;
    cand_.resize(keep);
  }
  softmax(params_.temperature);
  std::uniform_real_distribution<double> dist(0.0, 1.0);
  double r = dist(rng_);
  double cum = 0;
  for (const Candidate& c : cand_) {
    cum += c.p;
    if (r < cum) return c.id;
  }
  return cand_.back().id;
}

}  // namespace dkb::engine
