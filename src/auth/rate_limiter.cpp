#include "auth/rate_limiter.h"

#include <algorithm>

namespace dkb::auth {

RateLimiter::Bucket& RateLimiter::refill(const std::string& key, double rate_per_s, double burst,
                                         Clock::time_point now) {
  auto [it, inserted] = buckets_.try_emplace(key);
  Bucket& b = it->second;
  if (inserted) {
    b.tokens = burst;
  } else {
    double dt = std::chrono::duration<double>(now - b.last).count();
    if (dt > 0) b.tokens = std::min(burst, b.tokens + dt * rate_per_s);
  }
  b.last = std::max(b.last, now);
  return b;
}

void RateLimiter::evict_full(double rate_per_s, double burst, Clock::time_point now) {
  // Buckets that would be full by now carry no state worth keeping.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double dt = std::chrono::duration<double>(now - it->second.last).count();
    if (it->second.tokens + dt * rate_per_s >= burst) it = buckets_.erase(it);
    else ++it;
  }
}

RateDecision RateLimiter::take(const std::string& key, double rate_per_s, double burst,
                               Clock::time_point now) {
  if (rate_per_s <= 0) return {};
  burst = std::max(burst, 1.0);
  std::lock_guard lock(mu_);
  if (buckets_.size() >= kMaxBuckets) evict_full(rate_per_s, burst, now);
  Bucket& b = refill(key, rate_per_s, burst, now);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return {};
  }
  return {false, (1.0 - b.tokens) / rate_per_s};
}

RateDecision RateLimiter::peek(const std::string& key, double rate_per_s, double burst,
                               Clock::time_point now) {
  if (rate_per_s <= 0) return {};
  burst = std::max(burst, 1.0);
  std::lock_guard lock(mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) return {};
  Bucket& b = refill(key, rate_per_s, burst, now);
  if (b.tokens >= 1.0) return {};
  return {false, (1.0 - b.tokens) / rate_per_s};
}

size_t RateLimiter::size() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace dkb::auth
